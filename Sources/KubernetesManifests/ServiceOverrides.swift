import IPVS
import ServiceTables

/// Per-Service settings from `ipvsd.io/` annotations, validated; nil fields keep the agent's defaults.
public struct ServiceOverrides: Sendable, Hashable {
    /// The kind named by `ipvsd.io/health-check`.
    public enum HealthKind: String, Sendable, Hashable, CaseIterable {
        case none, tcp, http, https, udp, command, grpc
    }

    public var scheduler: Scheduler?
    public var schedulerFlags: ServiceFlags?
    /// The weight of every real server.
    public var weight: UInt32?
    public var allDownPolicy: AllDownPolicy?
    public var healthKind: HealthKind?
    public var healthPath: String?
    public var healthHost: String?
    public var healthStatus: ClosedRange<Int>?
    public var healthBody: String?
    public var healthInterval: Duration?
    public var healthTimeout: Duration?
    public var healthRise: Int?
    public var healthFall: Int?
    public var healthJitter: Double?
    public var healthPort: UInt16?
    public var healthFailureAction: HealthCheckSpec.FailureAction?
    public var healthCommand: [String]?
    public var healthUDPPayload: [UInt8]?
    /// The `service` a gRPC health check asks about.
    public var healthGRPCService: String?
    /// The line of each annotation given, by its name without the prefix (`health-path`), for errors that
    /// show only when combined with the agent's defaults.
    public var lines: [String: Int]

    public init() { self.lines = [:] }

    /// Annotations that shape an HTTP probe.
    static let httpKeys = ["health-path", "health-host", "health-status", "health-body"]

    /// Whether any `health-*` annotation other than `health-check` and `health-all-down` is set.
    var healthKeysGiven: [String] {
        lines.keys.filter { $0.hasPrefix("health-") && $0 != "health-check" && $0 != "health-all-down" }.sorted()
    }
}
