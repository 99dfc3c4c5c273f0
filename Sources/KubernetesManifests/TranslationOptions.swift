import IPVS
import LoadBalancer

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

    public init(
        defaultScheduler: Scheduler = .roundRobin,
        defaultHealthCheck: HealthCheckSpec? = nil,
        defaultAllDownPolicy: AllDownPolicy = .keepAll,
        serviceCIDRs: [IPNetwork] = [IPNetwork("10.96.0.0/12")!],
        defaultWeight: UInt32 = 1
    ) {
        self.defaultWeight = defaultWeight
        self.defaultScheduler = defaultScheduler
        self.defaultHealthCheck = defaultHealthCheck
        self.defaultAllDownPolicy = defaultAllDownPolicy
        self.serviceCIDRs = serviceCIDRs
    }
}
