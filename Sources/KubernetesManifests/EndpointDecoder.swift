import IPVS
import ServiceTables
import YAMLSyntax

/// Decodes discovery.k8s.io/v1 EndpointSlices and v1 Endpoints.
enum EndpointDecoder {
    static let serviceNameLabel = "kubernetes.io/service-name"

    /// The slice, or nil when it is invalid (errors in `sink`) or of address type FQDN (a note).
    static func slice(
        _ doc: LocatedYAML,
        meta: ObjectMeta,
        sink: inout ErrorSink,
        notes: inout [String]
    )
        -> EndpointSlice?
    {
        let before = sink.errors.count
        let serviceName = sink.attempt { () throws(LocatedError) in
            try meta.metadata.mapping("labels")?.string(serviceNameLabel) ?? ""
        }
        let family = sink.attempt { () throws(LocatedError) -> AddressFamily? in
            let node = try doc.required("addressType")
            switch try node.asString() {
            case "IPv4": return .inet
            case "IPv6": return .inet6
            case "FQDN": return nil
            default: throw node.error("must be IPv4, IPv6 or FQDN, got \(node.rendered)")
            }
        }
        let ports = sink.attempt { () throws(LocatedError) in
            try doc.each("ports") { node throws(LocatedError) in
                try node.checkMapping()
                return EndpointPort(
                    name: try node.string("name") ?? "",
                    proto: try node.protocolField(),
                    port: try node.int("port", in: 1...65535).map(UInt16.init)
                )
            }
        }
        guard case .some(.some(let addressType)) = family else {
            if case .some(.none) = family {
                notes.append("\(doc.file):\(doc.line): skipped FQDN EndpointSlice \(meta.namespace)/\(meta.name)")
            }
            return nil
        }
        let endpointNodes = (sink.attempt { () throws(LocatedError) in try doc.list("endpoints") } ?? nil) ?? []
        var endpoints: [Endpoint] = []
        // Exactly as many as listed: the array is held for the slice's life (append's doubling left up to
        // 60 % of it empty, 4 MB at 10k slices of 10).
        endpoints.reserveCapacity(endpointNodes.count)
        for node in endpointNodes {
            let endpoint = sink.attempt { () throws(LocatedError) -> Endpoint in
                try node.checkMapping()
                let addressList = try node.required("addresses")
                let addresses = try addressList.asList().map { a throws(LocatedError) in
                    try a.asServiceAddress(addressType)
                }
                guard let address = addresses.first else { throw addressList.error("must not be empty") }
                let conditions = try node.mapping("conditions")
                let ready = try conditions?.bool("ready") ?? true
                let serving = try conditions?.bool("serving") ?? ready
                let terminating = try conditions?.bool("terminating") ?? false
                let hints = try node.mapping("hints")
                return Endpoint(
                    address: address,
                    conditions: EndpointConditions(ready: ready, serving: serving, terminating: terminating),
                    target: try target(node, namespace: meta.namespace),
                    nodeName: try node.string("nodeName") ?? "",
                    zoneHints: try hintNames(hints, "forZones"),
                    nodeHints: try hintNames(hints, "forNodes")
                )
            }
            if let endpoint { endpoints.append(endpoint) }
        }
        guard sink.errors.count == before, let serviceName, let ports else { return nil }
        guard !serviceName.isEmpty else {
            notes.append(
                "\(doc.file):\(doc.line): EndpointSlice \(meta.namespace)/\(meta.name) skipped: "
                    + "no \(serviceNameLabel) label"
            )
            return nil
        }
        return EndpointSlice(
            namespace: meta.namespace,
            name: meta.name,
            location: SourceLocation(file: doc.file, line: doc.line),
            serviceName: serviceName,
            addressType: addressType,
            ports: ports,
            endpoints: endpoints
        )
    }

    static func endpoints(_ doc: LocatedYAML, meta: ObjectMeta, sink: inout ErrorSink) -> Endpoints? {
        let before = sink.errors.count
        var subsets: [Endpoints.Subset] = []
        for node in (sink.attempt { () throws(LocatedError) in try doc.list("subsets") } ?? nil) ?? [] {
            let subset = sink.attempt { () throws(LocatedError) -> Endpoints.Subset in
                try node.checkMapping()
                let ready = try node.each("addresses") { a throws(LocatedError) in
                    try address(a, conditions: .ready, namespace: meta.namespace)
                }
                let notReady = try node.each("notReadyAddresses") { a throws(LocatedError) in
                    try address(
                        a,
                        conditions: EndpointConditions(ready: false, serving: false, terminating: false),
                        namespace: meta.namespace
                    )
                }
                let ports = try node.each("ports") { p throws(LocatedError) in
                    try p.checkMapping()
                    return EndpointPort(
                        name: try p.string("name") ?? "",
                        proto: try p.protocolField(),
                        port: UInt16(try p.required("port").asInt(in: 1...65535))
                    )
                }
                return Endpoints.Subset(endpoints: ready + notReady, ports: ports)
            }
            if let subset { subsets.append(subset) }
        }
        guard sink.errors.count == before else { return nil }
        return Endpoints(
            namespace: meta.namespace,
            name: meta.name,
            location: SourceLocation(file: doc.file, line: doc.line),
            subsets: subsets
        )
    }

    private static func address(
        _ node: LocatedYAML,
        conditions: EndpointConditions,
        namespace: String
    )
        throws(LocatedError) -> Endpoint
    {
        try node.checkMapping()
        let ip = try node.required("ip").asServiceAddress()
        return Endpoint(
            address: ip,
            conditions: conditions,
            target: try target(node, namespace: namespace),
            nodeName: try node.string("nodeName") ?? ""
        )
    }

    /// The `name` of each entry of `hints.<key>` (`forZones`, `forNodes`); empty when absent.
    private static func hintNames(_ hints: LocatedYAML?, _ key: String) throws(LocatedError) -> Set<String> {
        guard let hints else { return [] }
        return Set(
            try hints.each(key) { entry throws(LocatedError) in
                try entry.checkMapping()
                return try entry.required("name").asString()
            }
        )
    }

    /// `namespace/name` of the targetRef, else the hostname, else empty.
    private static func target(_ node: LocatedYAML, namespace: String) throws(LocatedError) -> String {
        if let ref = try node.mapping("targetRef"), let name = try ref.string("name") {
            return "\(try ref.string("namespace") ?? namespace)/\(name)"
        }
        return try node.string("hostname") ?? ""
    }
}
