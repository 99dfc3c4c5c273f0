import IPVS
import ServiceTables
import YAMLSyntax

/// Translates loaded manifests into the desired IPVS state with Kubernetes semantics.
public struct DesiredStateBuilder {
    /// Builds one virtual server per Service port and VIP (cluster IPs, external IPs, load-balancer
    /// ingress) and, for NodePort and LoadBalancer Services, per nodePort and node address, with real servers
    /// from EndpointSlices (or Endpoints) chosen by the traffic policies and topology hints.
    /// - Parameters:
    ///   - allocations: cluster IPs chosen by earlier builds; kept while their Service exists.
    /// - Returns: the state, the allocations to persist, and notes about what was skipped.
    /// - Throws: every problem found, such as a full service CIDR or a VIP claimed by two Services.
    public static func build(
        _ set: ManifestSet,
        options: TranslationOptions,
        allocations: ClusterIPAllocations
    )
        throws(ManifestErrors) -> (state: DesiredState, allocations: ClusterIPAllocations, notes: [String])
    {
        var sink = ErrorSink()
        var notes = set.notes
        for network in options.serviceCIDRs where network.size < 4 {
            sink.append(
                LocatedError(
                    file: "options",
                    line: nil,
                    field: "serviceCIDRs",
                    message: "\(network) is too small: it needs at least 4 addresses"
                )
            )
        }
        guard sink.errors.isEmpty else { throw ManifestErrors(sink.errors) }
        let services = set.services.sorted { ($0.namespace, $0.name) < ($1.namespace, $1.name) }
        let (clusterIPs, newAllocations) = allocate(services, options: options, previous: allocations, sink: &sink)
        let resolution = EndpointResolution(set)
        var state = DesiredState()
        var owners: [VirtualServer.ID: Service] = [:]

        for service in services {
            let key = "\(service.namespace)/\(service.name)"
            let built: ServiceBuild
            do throws(LocatedError) {
                built = try Self.service(
                    service,
                    clusterIPs: clusterIPs[key] ?? [],
                    resolution: resolution,
                    options: options,
                    notes: &notes
                )
            } catch {
                sink.append(error)
                continue
            }
            for virtualServer in built.virtualServers {
                let id = virtualServer.id
                if let owner = owners[id] {
                    sink.append(conflict(id, service: service, owner: owner))
                    continue
                }
                owners[id] = service
                state.virtualServers[id] = virtualServer
            }
            if let (port, answer) = built.healthCheckNodePort {
                if let other = state.healthCheckNodePorts[port] {
                    sink.append(
                        LocatedError(
                            file: service.location.file,
                            line: service.location.line,
                            field: "spec.healthCheckNodePort",
                            message: "port \(port) is also the healthCheckNodePort of \(other.namespace)/\(other.name)"
                        )
                    )
                } else {
                    state.healthCheckNodePorts[port] = answer
                }
            }
        }
        guard sink.errors.isEmpty else { throw ManifestErrors(sink.errors) }
        return (state, newAllocations, notes)
    }

    /// One Service's virtual servers, from its EndpointSlices (or its Endpoints when no slice names it):
    /// what `build` produces for it, for sources that rebuild one Service per change (the Kubernetes API).
    /// - Parameters:
    ///   - clusterIPs: the Service's cluster IPs (a Service without one gets virtual servers only for its
    ///     external and load-balancer IPs).
    ///   - slices, endpoints: the Service's own; others are ignored.
    /// - Throws: the Service's annotation errors. An ExternalName or headless Service has none, with a note.
    public static func virtualServers(
        of service: Service,
        clusterIPs: [IPAddress],
        slices: [EndpointSlice],
        endpoints: Endpoints? = nil,
        options: TranslationOptions,
        notes: inout [String]
    ) throws(LocatedError) -> [DesiredVirtualServer] {
        try contribution(
            of: service,
            clusterIPs: clusterIPs,
            slices: slices,
            endpoints: endpoints,
            options: options,
            notes: &notes
        ).virtualServers
    }

    /// What one Service contributes: its virtual servers (as `virtualServers(of:...)`) and the
    /// healthCheckNodePort it asks this node to answer, with the answer (a LoadBalancer Service with
    /// externalTrafficPolicy Local and a healthCheckNodePort; nil otherwise).
    public static func contribution(
        of service: Service,
        clusterIPs: [IPAddress],
        slices: [EndpointSlice],
        endpoints: Endpoints? = nil,
        options: TranslationOptions,
        notes: inout [String]
    ) throws(LocatedError) -> (
        virtualServers: [DesiredVirtualServer], healthCheckNodePort: (port: UInt16, answer: HealthCheckNodePort)?
    ) {
        let resolution = EndpointResolution(slices: slices, endpoints: endpoints.map { [$0] } ?? [])
        let built = try Self.service(
            service,
            clusterIPs: clusterIPs,
            resolution: resolution,
            options: options,
            notes: &notes
        )
        return (built.virtualServers, built.healthCheckNodePort)
    }

    /// The error for a virtual server two Services define.
    public static func conflict(_ id: VirtualServer.ID, service: Service, owner: Service) -> LocatedError {
        LocatedError(
            file: service.location.file,
            line: service.location.line,
            field: "spec.ports",
            message: "virtual server \(id) is also defined by \(owner.namespace)/\(owner.name)"
        )
    }

    /// What one Service contributes: its virtual servers, and the healthCheckNodePort answer it asks for.
    public struct ServiceBuild: Sendable {
        public var virtualServers: [DesiredVirtualServer] = []
        public var healthCheckNodePort: (port: UInt16, answer: HealthCheckNodePort)?
    }

    /// One Service's build: what `build` does for each Service, for sources that rebuild one at a time.
    static func service(
        _ service: Service,
        clusterIPs: [IPAddress],
        resolution: EndpointResolution,
        options: TranslationOptions,
        notes: inout [String]
    ) throws(LocatedError) -> ServiceBuild {
        switch (service.type, service.clusterIP) {
        case (.externalName, _):
            notes.append("\(service.namespace)/\(service.name): ExternalName Service, no virtual server")
            return ServiceBuild()
        case (_, .headless):
            notes.append("\(service.namespace)/\(service.name): headless Service, no virtual server")
            return ServiceBuild()
        default: break
        }
        let health = try HealthResolution.spec(for: service, defaults: options.defaultHealthCheck)
        var vips: [(address: IPAddress, kind: VirtualAddressKind)] = []
        for address in clusterIPs where !vips.contains(where: { $0.address == address }) {
            vips.append((address, .clusterIP))
        }
        for address in service.externalIPs + service.loadBalancerIngress
        where !vips.contains(where: { $0.address == address }) {
            vips.append((address, .external(service.externalTrafficPolicy)))
        }
        let o = service.overrides
        var template = VirtualServer(
            id: .firewallMark(0, .inet),
            scheduler: o.scheduler ?? options.defaultScheduler,
            flags: o.schedulerFlags ?? []
        )
        if let timeout = service.clientIPAffinityTimeout {
            template.flags.insert(.persistent)
            template.timeout = timeout
        }
        var result = ServiceBuild()
        var localReady = 0
        for port in service.ports {
            let origin = ServiceOrigin(namespace: service.namespace, name: service.name, portName: port.name)
            var targets = vips.map {
                (id: VirtualServer.ID.service(port.proto, $0.address, port: port.port), $0.kind)
            }
            if service.type == .nodePort || service.type == .loadBalancer, let nodePort = port.nodePort {
                for address in options.nodePortAddresses {
                    targets.append(
                        (.service(port.proto, address, port: nodePort), .nodePort(service.externalTrafficPolicy))
                    )
                }
            }
            var selections: [Selection: RealServerTable<DesiredRealServer>] = [:]
            for (id, kind) in targets {
                guard case .service(_, let vip, _) = id else { continue }
                let selection = Selection(
                    family: vip.family,
                    policy: kind.externalTrafficPolicy ?? service.internalTrafficPolicy
                )
                if selections[selection] == nil {
                    selections[selection] = RealServerTable(
                        resolution.realServers(
                            service,
                            port: port,
                            family: vip.family,
                            weight: o.weight ?? options.defaultWeight,
                            policy: selection.policy,
                            options: options,
                            notes: &notes
                        )
                    )
                }
                var virtualServer = template
                virtualServer.id = id
                virtualServer.netmask = VirtualServer.fullNetmask(for: vip.family)
                result.virtualServers.append(
                    DesiredVirtualServer(
                        virtualServer: virtualServer,
                        realServerTable: selections[selection] ?? RealServerTable(),
                        origin: origin,
                        // Config-default checks are TCP connects: they suit TCP ports only. UDP and SCTP
                        // ports are checked when an annotation asks.
                        healthCheck: port.proto == .tcp || o.healthKind != nil ? health : nil,
                        allDownPolicy: o.allDownPolicy ?? options.defaultAllDownPolicy,
                        kind: kind
                    )
                )
            }
            if service.healthCheckNodePort != nil {
                var families = Set(
                    targets.compactMap { target -> AddressFamily? in
                        if case .service(_, let address, _) = target.id { return address.family }
                        return nil
                    }
                )
                if families.isEmpty { families = [.inet] }
                // Its notes were made when the virtual servers were built.
                var repeated: [String] = []
                for family in families {
                    let local = resolution.realServers(
                        service,
                        port: port,
                        family: family,
                        weight: 1,
                        policy: .local,
                        options: options,
                        notes: &repeated
                    )
                    localReady += local.filter(\.conditions.ready).count
                }
            }
        }
        // kube-proxy serves healthCheckNodePort for LoadBalancer Services with externalTrafficPolicy
        // Local (pkg/proxy/servicechangetracker.go, HealthCheckNodePort; pkg/proxy/healthcheck).
        if let port = service.healthCheckNodePort, service.type == .loadBalancer,
            service.externalTrafficPolicy == .local
        {
            result.healthCheckNodePort = (
                port,
                HealthCheckNodePort(namespace: service.namespace, name: service.name, localEndpoints: localReady)
            )
        }
        return result
    }

    /// The endpoints one virtual server uses depend on its address family and the traffic policy in force.
    private struct Selection: Hashable {
        var family: AddressFamily
        var policy: TrafficPolicy
    }

    /// Each Service's cluster IPs, static or allocated, and the allocations to persist.
    static func allocate(
        _ services: [Service],
        options: TranslationOptions,
        previous: ClusterIPAllocations,
        sink: inout ErrorSink
    ) -> ([String: [IPAddress]], ClusterIPAllocations) {
        var result: [String: [IPAddress]] = [:]
        var taken = Set<IPAddress>()
        var wanted: [(key: String, family: AddressFamily)] = []
        var wantedBy: [String: [(allocationKey: String, service: Service)]] = [:]
        for service in services where service.type != .externalName {
            let key = "\(service.namespace)/\(service.name)"
            switch service.clusterIP {
            case .addresses(let addresses):
                taken.formUnion(addresses)
                result[key] = addresses
            case .headless: break
            case .unset:
                let families =
                    service.ipFamilies.isEmpty
                    ? [options.serviceCIDRs.first?.family ?? .inet]
                    : service.ipFamilies
                for family in families {
                    let allocationKey = ClusterIPAllocations.key(
                        namespace: service.namespace,
                        name: service.name,
                        family: family
                    )
                    wanted.append((allocationKey, family))
                    wantedBy[key, default: []].append((allocationKey, service))
                }
            }
        }
        var allocator = ClusterIPAllocator(networks: options.serviceCIDRs, taken: taken)
        let chosen = allocator.allocate(keys: wanted, previous: previous)
        var allocations = ClusterIPAllocations()
        for (key, entries) in wantedBy.sorted(by: { $0.key < $1.key }) {
            for (allocationKey, service) in entries {
                guard case .some(.some(let address)) = chosen[allocationKey] else {
                    let family = allocationKey.hasSuffix("IPv6") ? AddressFamily.inet6 : .inet
                    let network = options.serviceCIDRs.first { $0.family == family }
                    let why = network.map { "service CIDR \($0) is full" } ?? "no \(family) service CIDR is configured"
                    sink.append(
                        LocatedError(
                            file: service.location.file,
                            line: service.location.line,
                            field: "spec.clusterIP",
                            message: "cannot allocate a cluster IP: \(why)"
                        )
                    )
                    continue
                }
                result[key, default: []].append(address)
                allocations.addresses[allocationKey] = address.description
            }
        }
        return (result, allocations)
    }
}
