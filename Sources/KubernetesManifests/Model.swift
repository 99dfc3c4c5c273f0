import IPVS
import ServiceTables

/// Where an object was defined: for errors found after loading and for duplicate detection.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
    public var file: String
    public var line: Int

    public init(file: String, line: Int) {
        self.file = file
        self.line = line
    }

    public var description: String { "\(file):\(line)" }
}

/// A v1 Service, reduced to what the load balancer uses.
public struct Service: Sendable, Hashable {
    public enum ServiceType: String, Sendable, Hashable {
        case clusterIP = "ClusterIP"
        case nodePort = "NodePort"
        case loadBalancer = "LoadBalancer"
        case externalName = "ExternalName"
    }

    /// What `spec.clusterIP` says.
    public enum ClusterIP: Sendable, Hashable {
        /// Absent or empty: allocate from the service CIDR.
        case unset
        /// `None`: headless, no virtual server.
        case headless
        /// One address per family (`clusterIPs`, else `clusterIP`).
        case addresses([IPAddress])
    }

    public struct Port: Sendable, Hashable {
        public var name: String
        public var proto: IPProtocol
        public var port: UInt16
        public var targetPort: TargetPort?
        /// `nodePort` of a NodePort or LoadBalancer Service; nil when absent.
        public var nodePort: UInt16?

        public init(
            name: String = "",
            proto: IPProtocol = .tcp,
            port: UInt16,
            targetPort: TargetPort? = nil,
            nodePort: UInt16? = nil
        ) {
            self.name = name
            self.proto = proto
            self.port = port
            self.targetPort = targetPort
            self.nodePort = nodePort
        }
    }

    /// A port number, or the name of a container port resolved through the EndpointSlice.
    public enum TargetPort: Sendable, Hashable {
        case number(UInt16)
        case name(String)
    }

    public var namespace: String
    public var name: String
    public var location: SourceLocation
    public var type: ServiceType
    public var clusterIP: ClusterIP
    /// `spec.ipFamilies`, in order; empty when not given.
    public var ipFamilies: [AddressFamily]
    public var ports: [Port]
    public var externalIPs: [IPAddress]
    /// `status.loadBalancer.ingress[].ip`.
    public var loadBalancerIngress: [IPAddress]
    /// `sessionAffinity: ClientIP` with its timeout in seconds; nil for `None`.
    public var clientIPAffinityTimeout: UInt32?
    /// The `ipvsd.io/` annotations' settings. Held boxed, and only when set: they are some 250 bytes and
    /// almost always empty, and every held Service carried them inline (2.5 MB at 10k Services, more in
    /// the dictionaries' spare room).
    public var overrides: ServiceOverrides {
        get { overridesBox?.value ?? ServiceOverrides() }
        set { overridesBox = newValue == ServiceOverrides() ? nil : OverridesBox(newValue) }
    }
    private var overridesBox: OverridesBox? = nil
    /// `spec.internalTrafficPolicy` (default Cluster): which endpoints serve cluster-IP traffic.
    public var internalTrafficPolicy: TrafficPolicy = .cluster
    /// `spec.externalTrafficPolicy` (default Cluster): which endpoints serve external IPs, load-balancer IPs
    /// and node ports, and whether their clients' source is kept (Local).
    public var externalTrafficPolicy: TrafficPolicy = .cluster
    /// `spec.healthCheckNodePort`: where the node answers how many local endpoints an externalTrafficPolicy
    /// Local Service has.
    public var healthCheckNodePort: UInt16?
    /// `spec.trafficDistribution` as given (PreferClose, PreferSameZone, PreferSameNode). Informational:
    /// kube-proxy, and so ipvsd, acts on the EndpointSlice hints the controller derives from it.
    public var trafficDistribution: String?

    public init(
        namespace: String,
        name: String,
        location: SourceLocation,
        type: ServiceType = .clusterIP,
        clusterIP: ClusterIP = .unset,
        ipFamilies: [AddressFamily] = [],
        ports: [Port] = [],
        externalIPs: [IPAddress] = [],
        loadBalancerIngress: [IPAddress] = [],
        clientIPAffinityTimeout: UInt32? = nil,
        overrides: ServiceOverrides = ServiceOverrides()
    ) {
        self.namespace = namespace
        self.name = name
        self.location = location
        self.type = type
        self.clusterIP = clusterIP
        self.ipFamilies = ipFamilies
        self.ports = ports
        self.externalIPs = externalIPs
        self.loadBalancerIngress = loadBalancerIngress
        self.clientIPAffinityTimeout = clientIPAffinityTimeout
        self.overrides = overrides
    }
}

/// Immutable, compared and hashed by value, so a Service's equality is unchanged by the boxing.
private final class OverridesBox: Sendable, Hashable {
    let value: ServiceOverrides

    init(_ value: ServiceOverrides) { self.value = value }

    static func == (lhs: OverridesBox, rhs: OverridesBox) -> Bool { lhs === rhs || lhs.value == rhs.value }
    func hash(into hasher: inout Hasher) { hasher.combine(value) }
}

/// A port as EndpointSlices and Endpoints list it; the number may be absent in a slice.
public struct EndpointPort: Sendable, Hashable {
    public var name: String
    public var proto: IPProtocol
    public var port: UInt16?

    public init(name: String = "", proto: IPProtocol = .tcp, port: UInt16?) {
        self.name = name
        self.proto = proto
        self.port = port
    }
}

/// One endpoint: its address with its conditions and what it is.
public struct Endpoint: Sendable, Hashable {
    /// The first of the object's `addresses`. Kubernetes treats them as fungible and says clients may use
    /// only the first (kube-proxy does); the rest are checked when read, then dropped, which saves an array
    /// per endpoint for as long as the slice is held.
    public var address: IPAddress
    public var conditions: EndpointConditions
    /// A targetRef's `namespace/name`, else the hostname, else empty.
    public var target: String
    /// The node it runs on (`nodeName`); empty when not given.
    public var nodeName: String
    /// `hints.forZones[].name`: the zones whose nodes should use it (topology-aware routing).
    public var zoneHints: Set<String>
    /// `hints.forNodes[].name`: the nodes that should use it (PreferSameNode).
    public var nodeHints: Set<String>

    public init(
        address: IPAddress,
        conditions: EndpointConditions = .ready,
        target: String = "",
        nodeName: String = "",
        zoneHints: Set<String> = [],
        nodeHints: Set<String> = []
    ) {
        self.address = address
        self.conditions = conditions
        self.target = target
        self.nodeName = nodeName
        self.zoneHints = zoneHints
        self.nodeHints = nodeHints
    }
}

/// A discovery.k8s.io/v1 EndpointSlice with an IP address type (FQDN slices are dropped with a note).
public struct EndpointSlice: Sendable, Hashable {
    public var namespace: String
    public var name: String
    public var location: SourceLocation
    /// The `kubernetes.io/service-name` label; empty when absent.
    public var serviceName: String
    public var addressType: AddressFamily
    public var ports: [EndpointPort]
    public var endpoints: [Endpoint]

    public init(
        namespace: String,
        name: String,
        location: SourceLocation,
        serviceName: String,
        addressType: AddressFamily,
        ports: [EndpointPort] = [],
        endpoints: [Endpoint] = []
    ) {
        self.namespace = namespace
        self.name = name
        self.location = location
        self.serviceName = serviceName
        self.addressType = addressType
        self.ports = ports
        self.endpoints = endpoints
    }
}

/// A v1 Endpoints object, used for a Service only when no EndpointSlice names it.
public struct Endpoints: Sendable, Hashable {
    public struct Subset: Sendable, Hashable {
        /// Ready addresses and not-ready addresses, each with its conditions set accordingly.
        public var endpoints: [Endpoint]
        public var ports: [EndpointPort]

        public init(endpoints: [Endpoint] = [], ports: [EndpointPort] = []) {
            self.endpoints = endpoints
            self.ports = ports
        }
    }

    public var namespace: String
    public var name: String
    public var location: SourceLocation
    public var subsets: [Subset]

    public init(namespace: String, name: String, location: SourceLocation, subsets: [Subset] = []) {
        self.namespace = namespace
        self.name = name
        self.location = location
        self.subsets = subsets
    }
}

/// Everything one load found, in input order, with notes about what was skipped.
public struct ManifestSet: Sendable, Hashable {
    public var services: [Service]
    public var endpointSlices: [EndpointSlice]
    public var endpoints: [Endpoints]
    /// Skipped objects and other remarks, such as `deploy.yaml:1: skipped apps/v1 Deployment default/web`.
    public var notes: [String]

    public init(
        services: [Service] = [],
        endpointSlices: [EndpointSlice] = [],
        endpoints: [Endpoints] = [],
        notes: [String] = []
    ) {
        self.services = services
        self.endpointSlices = endpointSlices
        self.endpoints = endpoints
        self.notes = notes
    }

    /// Appends another set's objects and notes.
    public mutating func append(_ other: ManifestSet) {
        services += other.services
        endpointSlices += other.endpointSlices
        endpoints += other.endpoints
        notes += other.notes
    }
}
