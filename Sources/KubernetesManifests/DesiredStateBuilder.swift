import IPVS
import LoadBalancer

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
                ManifestError(
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
            switch (service.type, service.clusterIP) {
            case (.externalName, _):
                notes.append("\(key): ExternalName Service, no virtual server")
                continue
            case (_, .headless):
                notes.append("\(key): headless Service, no virtual server")
                continue
            default: break
            }
            let health: HealthCheckSpec?
            do throws(ManifestError) {
                health = try HealthResolution.spec(for: service, defaults: options.defaultHealthCheck)
            } catch {
                sink.append(error)
                continue
            }
            var vips: [(address: IPAddress, kind: VirtualAddressKind)] = []
            for address in clusterIPs[key] ?? [] where !vips.contains(where: { $0.address == address }) {
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
                var selections: [Selection: [RealServer.ID: DesiredRealServer]] = [:]
                for (id, kind) in targets {
                    guard case .service(_, let vip, _) = id else { continue }
                    if let owner = owners[id] {
                        sink.append(
                            ManifestError(
                                file: service.location.file,
                                line: service.location.line,
                                field: "spec.ports",
                                message: "virtual server \(id) is also defined by \(owner.namespace)/\(owner.name)"
                            )
                        )
                        continue
                    }
                    owners[id] = service
                    let selection = Selection(
                        family: vip.family,
                        policy: kind.externalTrafficPolicy ?? service.internalTrafficPolicy
                    )
                    if selections[selection] == nil {
                        selections[selection] = resolution.realServers(
                            service,
                            port: port,
                            family: vip.family,
                            weight: o.weight ?? options.defaultWeight,
                            policy: selection.policy,
                            options: options,
                            notes: &notes
                        )
                    }
                    var virtualServer = template
                    virtualServer.id = id
                    virtualServer.netmask = VirtualServer.fullNetmask(for: vip.family)
                    state.virtualServers[id] = DesiredVirtualServer(
                        virtualServer: virtualServer,
                        realServers: selections[selection] ?? [:],
                        origin: origin,
                        // Config-default checks are TCP connects: they suit TCP ports only. UDP and SCTP
                        // ports are checked when an annotation asks.
                        healthCheck: port.proto == .tcp || o.healthKind != nil ? health : nil,
                        allDownPolicy: o.allDownPolicy ?? options.defaultAllDownPolicy,
                        kind: kind
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
                        localReady += local.values.filter(\.conditions.ready).count
                    }
                }
            }
            // kube-proxy serves healthCheckNodePort for LoadBalancer Services with externalTrafficPolicy
            // Local (pkg/proxy/servicechangetracker.go, HealthCheckNodePort; pkg/proxy/healthcheck).
            if let port = service.healthCheckNodePort, service.type == .loadBalancer,
                service.externalTrafficPolicy == .local
            {
                if let other = state.healthCheckNodePorts[port] {
                    sink.append(
                        ManifestError(
                            file: service.location.file,
                            line: service.location.line,
                            field: "spec.healthCheckNodePort",
                            message: "port \(port) is also the healthCheckNodePort of \(other.namespace)/\(other.name)"
                        )
                    )
                } else {
                    state.healthCheckNodePorts[port] = HealthCheckNodePort(
                        namespace: service.namespace,
                        name: service.name,
                        localEndpoints: localReady
                    )
                }
            }
        }
        guard sink.errors.isEmpty else { throw ManifestErrors(sink.errors) }
        return (state, newAllocations, notes)
    }

    /// The endpoints one virtual server uses depend on its address family and the traffic policy in force.
    private struct Selection: Hashable {
        var family: AddressFamily
        var policy: TrafficPolicy
    }

    /// Each Service's cluster IPs, static or allocated, and the allocations to persist.
    private static func allocate(
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
                        ManifestError(
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
