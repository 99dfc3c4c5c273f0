import Metrics
import ServiceTables

/// The health checker's metrics, created once so a check does not look them up in the factory.
struct HealthMetrics: Sendable {
    private struct PerKind: Sendable {
        var duration: Metrics.Timer
        var ok: Counter
        var fail: Counter
        var inconclusive: Counter
    }

    private let kinds: [String: PerKind]
    private let toUp: Counter
    private let toDown: Counter

    static let kindNames = ["tcp", "http", "https", "udp", "command", "grpc"]

    init(factory: any MetricsFactory) {
        var kinds: [String: PerKind] = [:]
        for kind in Self.kindNames {
            kinds[kind] = PerKind(
                duration: Metrics.Timer(
                    label: "ipvsd_health_check_duration_seconds",
                    dimensions: [("kind", kind)],
                    factory: factory
                ),
                ok: Counter(
                    label: "ipvsd_health_checks_total",
                    dimensions: [("kind", kind), ("result", "ok")],
                    factory: factory
                ),
                fail: Counter(
                    label: "ipvsd_health_checks_total",
                    dimensions: [("kind", kind), ("result", "fail")],
                    factory: factory
                ),
                inconclusive: Counter(
                    label: "ipvsd_health_checks_total",
                    dimensions: [("kind", kind), ("result", "inconclusive")],
                    factory: factory
                )
            )
        }
        self.kinds = kinds
        toUp = Counter(label: "ipvsd_health_transitions_total", dimensions: [("to", "up")], factory: factory)
        toDown = Counter(label: "ipvsd_health_transitions_total", dimensions: [("to", "down")], factory: factory)
    }

    func recordCheck(_ kind: HealthCheckSpec.Kind, _ result: ProbeResult) {
        guard let metrics = kinds[kind.name] else { return }
        metrics.duration.recordNanoseconds(result.latency.nanoseconds)
        (result.conclusive ? (result.success ? metrics.ok : metrics.fail) : metrics.inconclusive).increment()
    }

    func recordTransition(to state: HealthStatus.State) {
        switch state {
        case .up: toUp.increment()
        case .down: toDown.increment()
        case .unknown: break
        }
    }
}

extension HealthCheckSpec.Kind {
    /// The kind's name in metrics and logs.
    var name: String {
        switch self {
        case .tcp: "tcp"
        case .http: "http"
        case .https: "https"
        case .udp: "udp"
        case .command: "command"
        case .grpc: "grpc"
        }
    }
}
