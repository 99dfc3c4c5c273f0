import LoadBalancer

/// The outcome of one health probe.
public struct ProbeResult: Sendable, Hashable, CustomStringConvertible {
    public var success: Bool
    /// `ok`, or why the probe failed: `timeout`, `connection refused`, `status 503`, `exit status 2`.
    public var reason: String
    /// From the start of the probe to its outcome.
    public var latency: Duration

    public init(success: Bool, reason: String, latency: Duration = .zero) {
        self.success = success
        self.reason = reason
        self.latency = latency
    }

    /// A successful probe.
    public static func ok(latency: Duration = .zero) -> ProbeResult {
        ProbeResult(success: true, reason: "ok", latency: latency)
    }

    /// A failed probe with its reason.
    public static func failure(_ reason: String, latency: Duration = .zero) -> ProbeResult {
        ProbeResult(success: false, reason: reason, latency: latency)
    }

    public var description: String { reason }
}

/// Checks one target once. The monitor calls it; tests substitute a scripted fake.
public protocol Prober: Sendable {
    /// Probes `target`, bounded by its timeout; never throws, a failure is a result.
    func probe(_ target: HealthTarget) async -> ProbeResult
}
