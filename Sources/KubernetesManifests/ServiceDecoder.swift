import IPVS
import ServiceTables
import YAMLSyntax

/// Decodes a v1 Service document, validating what the load balancer relies on.
enum ServiceDecoder {
    static func decode(_ doc: LocatedYAML, meta: ObjectMeta, sink: inout ErrorSink) -> Service? {
        let errorsBefore = sink.errors.count
        var overrideErrors: [LocatedError] = []
        let overrides = Annotations.parse(meta.metadata["annotations"], errors: &overrideErrors)
        for error in overrideErrors { sink.append(error) }
        guard let spec = sink.attempt({ () throws(LocatedError) in try doc.required("spec") }),
            sink.attempt({ () throws(LocatedError) in try spec.asMapping() }) != nil
        else { return nil }

        var service = Service(
            namespace: meta.namespace,
            name: meta.name,
            location: SourceLocation(file: doc.file, line: doc.line),
            overrides: overrides
        )
        if let typeNode = spec["type"] {
            service.type =
                sink.attempt { () throws(LocatedError) in
                    guard let type = Service.ServiceType(rawValue: try typeNode.asString()) else {
                        throw typeNode.error(
                            "must be ClusterIP, NodePort, LoadBalancer or ExternalName, got \(typeNode.rendered)"
                        )
                    }
                    return type
                } ?? .clusterIP
        }
        service.clusterIP = clusterIP(spec, sink: &sink)
        service.ipFamilies =
            sink.attempt { () throws(LocatedError) in
                try spec.each("ipFamilies") { n throws(LocatedError) in try n.asFamily() }
            } ?? []
        service.ports = ports(spec, sink: &sink)
        service.externalIPs =
            sink.attempt { () throws(LocatedError) in
                try spec.each("externalIPs") { n throws(LocatedError) in try n.asServiceAddress() }
            } ?? []
        service.loadBalancerIngress = ingress(doc, sink: &sink)
        service.clientIPAffinityTimeout = affinity(spec, sink: &sink)
        service.internalTrafficPolicy = trafficPolicy(spec, "internalTrafficPolicy", sink: &sink)
        service.externalTrafficPolicy = trafficPolicy(spec, "externalTrafficPolicy", sink: &sink)
        service.healthCheckNodePort =
            sink.attempt { () throws(LocatedError) in
                try spec.int("healthCheckNodePort", in: 1...65535).map(UInt16.init)
            } ?? nil
        service.trafficDistribution =
            sink.attempt { () throws(LocatedError) -> String? in
                guard let node = spec["trafficDistribution"] else { return nil }
                let value = try node.asString()
                guard ["PreferClose", "PreferSameZone", "PreferSameNode"].contains(value) else {
                    throw node.error("must be PreferClose, PreferSameZone or PreferSameNode, got \(node.rendered)")
                }
                return value
            } ?? nil
        return sink.errors.count == errorsBefore ? service : nil
    }

    /// `Cluster` or `Local`; Cluster when absent.
    private static func trafficPolicy(_ spec: LocatedYAML, _ key: String, sink: inout ErrorSink) -> TrafficPolicy {
        sink.attempt { () throws(LocatedError) -> TrafficPolicy in
            guard let node = spec[key] else { return .cluster }
            guard let policy = TrafficPolicy(rawValue: try node.asString()) else {
                throw node.error("must be Cluster or Local, got \(node.rendered)")
            }
            return policy
        } ?? .cluster
    }

    private static func clusterIP(_ spec: LocatedYAML, sink: inout ErrorSink) -> Service.ClusterIP {
        func parse(_ node: LocatedYAML) throws(LocatedError) -> Service.ClusterIP {
            let text = try node.asString()
            if text.isEmpty { return .unset }
            if text == "None" { return .headless }
            guard !text.utf8.contains(0), let address = IPAddress(text) else {
                throw node.error("must be an IP address, \"None\" or empty, got \(node.rendered)")
            }
            try node.checkNotSpecial(address)
            return .addresses([address])
        }
        let single = spec["clusterIP"].flatMap { node in sink.attempt { () throws(LocatedError) in try parse(node) } }
        guard let listNode = spec["clusterIPs"] else { return single ?? .unset }
        return sink.attempt { () throws(LocatedError) -> Service.ClusterIP in
            let nodes = try listNode.asList()
            let values = try nodes.map { n throws(LocatedError) in try parse(n) }
            guard let first = values.first else { return single ?? .unset }
            if let single, single != first {
                throw nodes[0].error("must equal spec.clusterIP")
            }
            if first != .unset, first != .headless {
                let addresses = values.compactMap { value -> IPAddress? in
                    if case .addresses(let list) = value { return list.first }
                    return nil
                }
                guard addresses.count == values.count, addresses.count <= 2,
                    Set(addresses.map(\.family)).count == addresses.count
                else { throw listNode.error("must hold at most one IPv4 and one IPv6 address") }
                return .addresses(addresses)
            }
            guard values.count == 1 else { throw listNode.error("must hold at most one IPv4 and one IPv6 address") }
            return first
        } ?? .unset
    }

    private static func ports(_ spec: LocatedYAML, sink: inout ErrorSink) -> [Service.Port] {
        guard let nodes = sink.attempt({ () throws(LocatedError) in try spec.list("ports") }) ?? nil else {
            return []
        }
        var ports: [Service.Port] = []
        var seenNames = Set<String>()
        for node in nodes {
            let port = sink.attempt { () throws(LocatedError) -> Service.Port in
                try node.checkMapping()
                let name = try node.string("name") ?? ""
                if nodes.count > 1, name.isEmpty {
                    throw LocatedError(
                        file: node.file,
                        line: node.line,
                        field: node.path(of: "name"),
                        message: "is required when a Service has more than one port"
                    )
                }
                if !seenNames.insert(name).inserted, let nameNode = node["name"] {
                    throw nameNode.error("duplicate port name \"\(name)\"")
                }
                let proto = try node.protocolField()
                let number = try node.required("port").asInt(in: 1...65535)
                return Service.Port(
                    name: name,
                    proto: proto,
                    port: UInt16(number),
                    targetPort: try targetPort(node["targetPort"]),
                    nodePort: try node.int("nodePort", in: 1...65535).map(UInt16.init)
                )
            }
            if let port { ports.append(port) }
        }
        return ports
    }

    private static func targetPort(_ node: LocatedYAML?) throws(LocatedError) -> Service.TargetPort? {
        guard let node else { return nil }
        if node.isPlainScalar, let text = node.scalarText, Int(text) != nil {
            return .number(UInt16(try node.asInt(in: 1...65535)))
        }
        let name = try node.asString()
        let valid =
            (1...15).contains(name.count) && name.contains(where: \.isLetter)
            && name.allSatisfy { ($0.isLowercase && $0.isASCII) || $0.isNumber || $0 == "-" }
        guard valid else { throw node.error("must be a port number 1...65535 or a port name, got \(node.rendered)") }
        return .name(name)
    }

    private static func ingress(_ doc: LocatedYAML, sink: inout ErrorSink) -> [IPAddress] {
        guard let list = doc["status"]?["loadBalancer"]?["ingress"] else { return [] }
        return sink.attempt { () throws(LocatedError) -> [IPAddress] in
            var addresses: [IPAddress] = []
            for entry in try list.asList() {
                try entry.checkMapping()
                if let ip = entry["ip"] { addresses.append(try ip.asServiceAddress()) }
            }
            return addresses
        } ?? []
    }

    private static func affinity(_ spec: LocatedYAML, sink: inout ErrorSink) -> UInt32? {
        sink.attempt { () throws(LocatedError) -> UInt32? in
            guard let node = spec["sessionAffinity"] else { return nil }
            switch try node.asString() {
            case "None": return nil
            case "ClientIP":
                let timeout = try spec.mapping("sessionAffinityConfig")?.mapping("clientIP")?
                    .int("timeoutSeconds", in: 1...86400)
                return UInt32(timeout ?? 10800)
            default: throw node.error("must be None or ClientIP, got \(node.rendered)")
            }
        } ?? nil
    }
}
