import IPVS

/// Everything the agent should program: the virtual servers it owns and the addresses to bind.
///
/// Built from the inputs (manifests) and handed to the tables; a pure value.
public struct DesiredState: Sendable, Hashable {
    public var virtualServers: [VirtualServer.ID: DesiredVirtualServer]
    /// What each healthCheckNodePort answers, by port (LoadBalancer Services with externalTrafficPolicy
    /// Local).
    public var healthCheckNodePorts: [UInt16: HealthCheckNodePort]

    public init(
        virtualServers: [VirtualServer.ID: DesiredVirtualServer] = [:],
        healthCheckNodePorts: [UInt16: HealthCheckNodePort] = [:]
    ) {
        self.virtualServers = virtualServers
        self.healthCheckNodePorts = healthCheckNodePorts
    }

    /// The addresses that must be bound on the agent's dummy interface: every virtual server's address but
    /// node ports', which are the node's own addresses.
    public var addresses: Set<IPAddress> {
        var result = Set<IPAddress>()
        for (id, service) in virtualServers where service.kind.bindsAddress {
            if case .service(_, let address, _) = id { result.insert(address) }
        }
        return result
    }
}

/// A Service's healthCheckNodePort: load balancers send traffic to this node only while it answers 200,
/// which it does when the Service has a ready endpoint here.
public struct HealthCheckNodePort: Sendable, Hashable {
    public var namespace: String
    public var name: String
    /// Ready endpoints on this node, summed over the Service's ports as kube-proxy's
    /// `EndpointsMap.LocalReadyEndpoints` does.
    public var localEndpoints: Int

    public init(namespace: String, name: String, localEndpoints: Int) {
        self.namespace = namespace
        self.name = name
        self.localEndpoints = localEndpoints
    }
}

/// Where a virtual server came from, for logs, metrics and the admin view.
public struct ServiceOrigin: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var namespace: String
    public var name: String
    /// The Service port's name; empty for a single unnamed port.
    public var portName: String

    public init(namespace: String, name: String, portName: String = "") {
        self.namespace = namespace
        self.name = name
        self.portName = portName
    }

    /// `production/backend-api:http`, or `production/backend-api` for an unnamed port.
    public var description: String { portName.isEmpty ? "\(namespace)/\(name)" : "\(namespace)/\(name):\(portName)" }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.namespace, lhs.name, lhs.portName) < (rhs.namespace, rhs.name, rhs.portName)
    }
}

/// One virtual server as the desired state wants it.
public struct DesiredVirtualServer: Sendable, Hashable {
    /// Identity, scheduler, flags and persistence (ClientIP affinity).
    public var virtualServer: VirtualServer
    /// The endpoints, ready or not; the core decides which of them serve.
    public var realServers: RealServerTable<DesiredRealServer>
    public var origin: ServiceOrigin
    /// Active health checking of the real servers; nil when disabled.
    public var healthCheck: HealthCheckSpec? {
        get { healthCheckBox?.spec }
        set { healthCheckBox = newValue.map(HealthCheckBox.init) }
    }
    /// Boxed: a spec is 136 bytes, inline in every bucket of the desired table (16k buckets at 10k services)
    /// whether checks are on or not; the box is one word, and nil costs nothing.
    private var healthCheckBox: HealthCheckBox?
    /// What happens when health checks fail for every real server.
    public var allDownPolicy: AllDownPolicy
    /// How clients reach it: decides whether its address is bound and whose source address is kept.
    public var kind: VirtualAddressKind

    public init(
        virtualServer: VirtualServer,
        realServers: [RealServer.ID: DesiredRealServer] = [:],
        origin: ServiceOrigin,
        healthCheck: HealthCheckSpec? = nil,
        allDownPolicy: AllDownPolicy = .keepAll,
        kind: VirtualAddressKind = .clusterIP
    ) {
        self.init(
            virtualServer: virtualServer,
            realServerTable: RealServerTable(realServers),
            origin: origin,
            healthCheck: healthCheck,
            allDownPolicy: allDownPolicy,
            kind: kind
        )
    }

    /// Takes the real servers as the table it keeps (a build that has them sorted makes no dictionary).
    public init(
        virtualServer: VirtualServer,
        realServerTable: RealServerTable<DesiredRealServer>,
        origin: ServiceOrigin,
        healthCheck: HealthCheckSpec?,
        allDownPolicy: AllDownPolicy,
        kind: VirtualAddressKind
    ) {
        self.virtualServer = virtualServer
        self.realServers = realServerTable
        self.origin = origin
        self.healthCheckBox = healthCheck.map(HealthCheckBox.init)
        self.allDownPolicy = allDownPolicy
        self.kind = kind
    }

    public var id: VirtualServer.ID { virtualServer.id }
}

/// One endpoint behind a virtual server, with the conditions Kubernetes reports for it.
public struct DesiredRealServer: Sendable, Hashable {
    // The flags come before `target`: they fill the padding after the real server (42 bytes) and the value
    // is 64 bytes a real server instead of 72 (0.8 MB a table at 10k Services x 10).

    /// Address, port, forwarding method and the weight it has when it serves.
    public var realServer: RealServer
    public var conditions: EndpointConditions
    /// The endpoint is known to run on another node (its `nodeName` and this node's are both set and
    /// differ). Its packets never reach this node's IPVS with its own address as destination, so it needs
    /// no hairpin masquerade element (kube-proxy's KUBE-LOOP-BACK holds local endpoints only). False when
    /// either name is unknown: such an endpoint may be local, and keeps its element.
    public var onOtherNode: Bool
    /// What the endpoint is (a pod's `namespace/name`, or a hostname), for the admin view; may be empty.
    public var target: String

    public init(
        realServer: RealServer,
        conditions: EndpointConditions = .ready,
        target: String = "",
        onOtherNode: Bool = false
    ) {
        self.realServer = realServer
        self.conditions = conditions
        self.target = target
        self.onOtherNode = onOtherNode
    }

    public var id: RealServer.ID { realServer.id }
}

/// An endpoint's conditions as discovery.k8s.io/v1 defines them.
public struct EndpointConditions: Sendable, Hashable {
    /// Ready for traffic (false while terminating).
    public var ready: Bool
    /// Able to serve, even while terminating.
    public var serving: Bool
    /// Being deleted.
    public var terminating: Bool

    public init(ready: Bool, serving: Bool, terminating: Bool) {
        self.ready = ready
        self.serving = serving
        self.terminating = terminating
    }

    /// A ready, serving endpoint that is not terminating.
    public static let ready = EndpointConditions(ready: true, serving: true, terminating: false)
}

/// What to do when active health checks fail for every real server of a virtual server.
public enum AllDownPolicy: String, Sendable, Hashable, CaseIterable {
    /// Keep every ready endpoint in IPVS as a last resort: a check that fails everywhere at once is more
    /// often the checker's or the network's fault than every backend's.
    case keepAll = "keep-all"
    /// Remove them all, so clients fail fast with a refused connection.
    case removeAll = "remove-all"
}

/// A health check spec on the heap, so a virtual server without one does not carry its size.
private final class HealthCheckBox: Sendable, Hashable {
    let spec: HealthCheckSpec

    init(_ spec: HealthCheckSpec) { self.spec = spec }

    static func == (lhs: HealthCheckBox, rhs: HealthCheckBox) -> Bool { lhs === rhs || lhs.spec == rhs.spec }

    func hash(into hasher: inout Hasher) { hasher.combine(spec) }
}
