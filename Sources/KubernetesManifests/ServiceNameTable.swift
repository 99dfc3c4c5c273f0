import IPVS
import ServiceTables

/// What DNS needs to know about each Service, built from the same manifests and cluster IPs as the desired
/// state (and beside it: the desired state has no virtual server for a headless Service, and keeps no
/// port names or protocols by name).
public struct ServiceNameTable: Sendable, Hashable {
    /// A named Service port as DNS publishes it in SRV records.
    public struct NamedPort: Sendable, Hashable {
        public var name: String
        public var proto: IPProtocol
        /// The Service port; for a headless Service, the port the ready endpoints listen on.
        public var port: UInt16

        public init(name: String, proto: IPProtocol, port: UInt16) {
            self.name = name
            self.proto = proto
            self.port = port
        }
    }

    public struct Entry: Sendable, Hashable {
        public var namespace: String
        public var name: String
        /// The cluster IPs (static or allocated); empty for a headless Service.
        public var clusterIPs: [IPAddress]
        public var headless: Bool
        /// The ready endpoints' addresses, for a headless Service (DNS gives clients the Pods directly).
        public var endpointAddresses: [IPAddress]
        /// Named ports only: an unnamed port has no SRV name.
        public var ports: [NamedPort]

        public init(
            namespace: String,
            name: String,
            clusterIPs: [IPAddress] = [],
            headless: Bool = false,
            endpointAddresses: [IPAddress] = [],
            ports: [NamedPort] = []
        ) {
            self.namespace = namespace
            self.name = name
            self.clusterIPs = clusterIPs
            self.headless = headless
            self.endpointAddresses = endpointAddresses
            self.ports = ports
        }
    }

    /// By namespace, then name. ExternalName Services are not in it.
    public var entries: [Entry]

    public init(entries: [Entry] = []) { self.entries = entries }

    /// The table of entries kept per Service (as the manifest store and the API source keep them), in
    /// namespace and name order.
    public init(byService entries: [ObjectKey: Entry]) {
        self.init(entries: entries.sorted { $0.key < $1.key }.map(\.value))
    }

    /// Builds the table from a loaded set and the allocations ``DesiredStateBuilder/build(_:options:allocations:)``
    /// returned with the desired state, so names and virtual servers agree on every cluster IP.
    public static func build(_ set: ManifestSet, allocations: ClusterIPAllocations) -> ServiceNameTable {
        let resolution = EndpointResolution(set)
        let entries = set.services.sorted(by: { ($0.namespace, $0.name) < ($1.namespace, $1.name) }).compactMap {
            entry(for: $0, allocations: allocations, resolution: resolution)
        }
        return ServiceNameTable(entries: entries)
    }

    /// One Service's entry; nil for an ExternalName Service. `resolution` must hold the Service's endpoints;
    /// only a headless Service's entry reads them (an API source's first build asks for 10,000 entries, and
    /// making each Service's resolution was most of their cost).
    static func entry(
        for service: Service,
        allocations: ClusterIPAllocations,
        resolution endpoints: @autoclosure () -> EndpointResolution
    ) -> Entry? {
        guard service.type != .externalName else { return nil }
        var entry = Entry(namespace: service.namespace, name: service.name)
        let named = service.ports.filter { !$0.name.isEmpty }
        switch service.clusterIP {
        case .addresses(let addresses):
            entry.clusterIPs = addresses
        case .unset:
            entry.clusterIPs = [AddressFamily.inet, .inet6].compactMap { family in
                let key = ClusterIPAllocations.key(namespace: service.namespace, name: service.name, family: family)
                return allocations.addresses[key].flatMap { IPAddress($0) }
            }
        case .headless:
            let resolution = endpoints()
            entry.headless = true
            entry.endpointAddresses = resolution.readyAddresses(service)
            var notes: [String] = []
            for port in named {
                var targets: [UInt16] = []
                for family in [AddressFamily.inet, .inet6] {
                    let servers = resolution.realServers(
                        service,
                        port: port,
                        family: family,
                        weight: 1,
                        // A name resolves to every ready endpoint, wherever it runs: no node or zone
                        // selection (no node name, no zone in these options).
                        policy: .cluster,
                        options: TranslationOptions(),
                        notes: &notes
                    )
                    for server in servers where server.conditions.ready {
                        if !targets.contains(server.realServer.port) { targets.append(server.realServer.port) }
                    }
                }
                entry.ports += targets.map { NamedPort(name: port.name, proto: port.proto, port: $0) }
            }
        }
        if !entry.headless {
            entry.ports = named.map { NamedPort(name: $0.name, proto: $0.proto, port: $0.port) }
        }
        return entry
    }
}

extension ServiceObjects {
    /// The name entry of the Service `key` as held now; nil when it is absent or an ExternalName Service.
    public func nameEntry(of key: ObjectKey, allocations: ClusterIPAllocations) -> ServiceNameTable.Entry? {
        services[key].flatMap {
            ServiceNameTable.entry(for: $0, allocations: allocations, resolution: resolution(of: key))
        }
    }
}

extension EndpointResolution {
    /// The distinct addresses of a Service's ready endpoints, every family, in address order: what a
    /// headless Service's name resolves to.
    func readyAddresses(_ service: Service) -> [IPAddress] {
        let key = ObjectKey(namespace: service.namespace, name: service.name)
        let endpoints: [Endpoint] =
            if let slices = slices[key] {
                slices.flatMap(\.endpoints)
            } else {
                endpoints[key]?.subsets.flatMap(\.endpoints) ?? []
            }
        return Set(endpoints.filter(\.conditions.ready).map(\.address)).sorted()
    }
}
