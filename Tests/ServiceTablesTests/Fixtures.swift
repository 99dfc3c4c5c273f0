import IPVS
import ServiceTables
import TestSupport

/// A TCP or UDP virtual server ID on 10.0.0.`host`.
func serviceID(_ host: UInt8, port: UInt16 = 80, proto: IPProtocol = .tcp) -> VirtualServer.ID {
    .service(proto, IPAddress("10.0.0.\(host)")!, port: port)
}

/// Real server 10.1.0.`host`:8080.
func serverID(_ host: UInt8, port: UInt16 = 8080) -> RealServer.ID {
    RealServer.ID(address: IPAddress("10.1.0.\(host)")!, port: port)
}

func endpoint(
    _ host: UInt8,
    weight: UInt32 = 1,
    conditions: EndpointConditions = .ready,
    onOtherNode: Bool = false
) -> DesiredRealServer {
    let id = serverID(host)
    return DesiredRealServer(
        realServer: RealServer(address: id.address, port: id.port, forwarding: .masquerade, weight: weight),
        conditions: conditions,
        target: "pod-\(host)",
        onOtherNode: onOtherNode
    )
}

func service(
    _ id: VirtualServer.ID,
    _ endpoints: [DesiredRealServer],
    scheduler: Scheduler = .roundRobin,
    healthCheck: HealthCheckSpec? = nil,
    allDown: AllDownPolicy = .keepAll
) -> DesiredVirtualServer {
    DesiredVirtualServer(
        virtualServer: VirtualServer(id: id, scheduler: scheduler),
        realServers: Dictionary(uniqueKeysWithValues: endpoints.map { ($0.id, $0) }),
        origin: ServiceOrigin(namespace: "default", name: "svc-\(id)"),
        healthCheck: healthCheck,
        allDownPolicy: allDown
    )
}

func desiredState(_ services: [DesiredVirtualServer]) -> DesiredState {
    DesiredState(virtualServers: Dictionary(uniqueKeysWithValues: services.map { ($0.id, $0) }))
}

extension EndpointConditions {
    static let notReady = EndpointConditions(ready: false, serving: false, terminating: false)
    static let terminatingServing = EndpointConditions(ready: false, serving: true, terminating: true)
    static let terminatingGone = EndpointConditions(ready: false, serving: false, terminating: true)
}

/// The state, a fake kernel and a hand-moved clock, driven the way the agent drives them.
struct Harness {
    var state: LoadBalancerState
    let kernel = FakeIPVSKernel()
    var now = ContinuousClock.now

    init(settings: LoadBalancerSettings = .init(), owned: Set<VirtualServer.ID> = []) {
        state = LoadBalancerState(settings: settings, owned: owned)
    }

    /// Sets the desired state and syncs the IDs it reports as changed; returns the operations applied.
    @discardableResult
    mutating func set(_ services: [DesiredVirtualServer]) -> [IPVSOperation] {
        let changed = state.setDesired(desiredState(services))
        return sync(changed)
    }

    /// plan -> apply -> record; returns the operations applied.
    @discardableResult
    mutating func sync(_ ids: Set<VirtualServer.ID>?) -> [IPVSOperation] {
        let operations = state.plan(for: ids, now: now)
        let result = kernel.apply(operations, progress: nil)
        state.record(operations, result: result)
        return operations
    }

    /// A full resync: read the kernel as the agent does, adopt, plan everything; returns the repairs.
    @discardableResult
    mutating func resync() throws -> [IPVSOperation] {
        let services = try kernel.services()
        var servers: [VirtualServer.ID: [ObservedRealServer]] = [:]
        for observed in services where state.owned.contains(observed.virtualServer.id) {
            servers[observed.virtualServer.id] = try kernel.servers(of: observed.virtualServer.id)
        }
        state.adopt(services: services, servers: servers)
        return sync(nil)
    }

    /// The kernel's real servers of one service with their weights.
    func kernelWeights(_ id: VirtualServer.ID) -> [RealServer.ID: UInt32] {
        kernel.contents[id]?.servers.mapValues(\.weight) ?? [:]
    }

    /// Reads connection counts of draining services into the state; returns the IDs whose drain may end.
    mutating func pollConnections() throws -> Set<VirtualServer.ID> {
        var ready = Set<VirtualServer.ID>()
        for id in state.drainingServices {
            ready.formUnion(state.updateConnections(of: id, servers: try kernel.servers(of: id)))
        }
        return ready
    }
}
