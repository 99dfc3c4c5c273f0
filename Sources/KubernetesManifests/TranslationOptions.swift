import IPVS
import ServiceTables
import YAMLSyntax

/// The agent-wide defaults that Service annotations override.
public struct TranslationOptions: Sendable {
    public var defaultScheduler: Scheduler
    /// nil: health checks are off unless a Service asks for one.
    public var defaultHealthCheck: HealthCheckSpec?
    public var defaultAllDownPolicy: AllDownPolicy
    /// Where cluster IPs for Services without one come from: at most one network per family, each with at
    /// least 4 addresses (network and broadcast addresses are never handed out).
    public var serviceCIDRs: [IPNetwork]
    /// The weight of each serving endpoint unless `ipvsd.io/weight` says otherwise.
    public var defaultWeight: UInt32
    /// This node's name: endpoints with this `nodeName` are local. Empty: none is.
    public var nodeName: String
    /// This node's zone, for zone hints. Empty: zone hints never match.
    public var zone: String
    /// The node addresses NodePort and LoadBalancer Services get a virtual server on, one per nodePort.
    /// Empty: node ports are not programmed.
    public var nodePortAddresses: [IPAddress]

    public init(
        defaultScheduler: Scheduler = .roundRobin,
        defaultHealthCheck: HealthCheckSpec? = nil,
        defaultAllDownPolicy: AllDownPolicy = .keepAll,
        serviceCIDRs: [IPNetwork] = [IPNetwork("10.96.0.0/12")!],
        defaultWeight: UInt32 = 1,
        nodeName: String = "",
        zone: String = "",
        nodePortAddresses: [IPAddress] = []
    ) {
        self.defaultWeight = defaultWeight
        self.nodeName = nodeName
        self.zone = zone
        self.nodePortAddresses = nodePortAddresses
        self.defaultScheduler = defaultScheduler
        self.defaultHealthCheck = defaultHealthCheck
        self.defaultAllDownPolicy = defaultAllDownPolicy
        self.serviceCIDRs = serviceCIDRs
    }
}
