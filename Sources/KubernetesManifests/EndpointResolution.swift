import IPVS
import ServiceTables

/// Finds the real servers of one Service port in one address family: from EndpointSlices, or from the
/// Endpoints object when no slice names the Service.
struct EndpointResolution {
    // Keyed by the Service's ObjectKey, not a "namespace/name" string: one resolution is built per Service
    // when the API source rebuilds it, and formatting those strings twice per Service showed in profiles.
    var slices: [ObjectKey: [EndpointSlice]] = [:]
    var endpoints: [ObjectKey: Endpoints] = [:]

    init(_ set: ManifestSet) {
        self.init(slices: set.endpointSlices, endpoints: set.endpoints)
    }

    init(slices: [EndpointSlice], endpoints: [Endpoints]) {
        for slice in slices where !slice.serviceName.isEmpty {
            self.slices[ObjectKey(namespace: slice.namespace, name: slice.serviceName), default: []].append(slice)
        }
        for object in endpoints { self.endpoints[ObjectKey(namespace: object.namespace, name: object.name)] = object }
    }

    /// The real servers for `port` of `service` with addresses of `family` that serve under `policy` on this
    /// node (``Topology``), sorted by ID, each once; skipped groups become notes.
    func realServers(
        _ service: Service,
        port: Service.Port,
        family: AddressFamily,
        weight: UInt32,
        policy: TrafficPolicy,
        options: TranslationOptions,
        notes: inout [String]
    ) -> [DesiredRealServer] {
        let key = ObjectKey(namespace: service.namespace, name: service.name)
        // Each group's source is named only for a note, so it is kept as its parts until one is written.
        var groups: [(source: (kind: String, key: ObjectKey), ports: [EndpointPort], endpoints: [Endpoint])] = []
        if let slices = slices[key] {
            for slice in slices where slice.addressType == family {
                let source = ("EndpointSlice", ObjectKey(namespace: slice.namespace, name: slice.name))
                groups.append((source, slice.ports, slice.endpoints))
            }
        } else if let object = endpoints[key] {
            for subset in object.subsets {
                let members = subset.endpoints.filter { $0.address.family == family }
                groups.append((("Endpoints", key), subset.ports, members))
            }
        }
        // Sized once: grown from empty, it was rehashed four times per Service of ten endpoints, the largest
        // part of a first list's build (perf in the VM, 10k Services x 10).
        var candidates: [RealServer.ID: (endpoint: Endpoint, real: DesiredRealServer)] = [:]
        candidates.reserveCapacity(groups.reduce(0) { $0 + $1.endpoints.count })
        for group in groups where !group.endpoints.isEmpty {
            guard let target = targetPort(port, in: group.ports) else {
                let origin = ServiceOrigin(namespace: service.namespace, name: service.name, portName: port.name)
                notes.append(
                    "\(origin): \(group.source.kind) \(group.source.key) has no port for targetPort \"\(port.targetPortName ?? "")\"; "
                        + "its endpoints are skipped"
                )
                continue
            }
            for endpoint in group.endpoints {
                let real = DesiredRealServer(
                    realServer: RealServer(
                        address: endpoint.address,
                        port: target,
                        forwarding: .masquerade,
                        weight: weight
                    ),
                    conditions: endpoint.conditions,
                    target: endpoint.target,
                    onOtherNode: !options.nodeName.isEmpty && !endpoint.nodeName.isEmpty
                        && endpoint.nodeName != options.nodeName
                )
                // The same address in two slices: the ready entry wins.
                if let existing = candidates[real.id], existing.real.conditions.ready || !real.conditions.ready {
                    continue
                }
                candidates[real.id] = (endpoint, real)
            }
        }
        // Sorted, so the selection never depends on dictionary order.
        let ordered = candidates.sorted { $0.key < $1.key }.map(\.value)
        // A selection keeps the order: the result is sorted as a RealServerTable holds it.
        return Topology.select(
            ordered,
            endpoint: \.endpoint,
            policy: policy,
            nodeName: options.nodeName,
            zone: options.zone
        ).map(\.real)
    }

    /// The slice port named like the Service port with its protocol; without a number there, the Service's
    /// numeric targetPort (or port). A named targetPort nothing resolves is nil.
    private func targetPort(_ port: Service.Port, in ports: [EndpointPort]) -> UInt16? {
        if let match = ports.first(where: { $0.name == port.name && $0.proto == port.proto }),
            let number = match.port
        {
            return number
        }
        switch port.targetPort {
        case .number(let number): return number
        case nil: return port.port
        case .name: return nil
        }
    }
}

extension Service.Port {
    fileprivate var targetPortName: String? {
        if case .name(let name) = targetPort { return name }
        return nil
    }
}
