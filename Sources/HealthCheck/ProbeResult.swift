import ServiceTables

/// The outcome of one health probe.
public struct ProbeResult: Sendable, Hashable, CustomStringConvertible {
    public var success: Bool
    /// `ok`, or why the probe failed: `timeout`, `connection refused`, `status 503`, `exit status 2`.
    public var reason: String
    /// From the start of the probe to its outcome.
    public var latency: Duration
    /// False when the probe says nothing about the target: its timeout fired so late that the checker itself
    /// was starved (CPU, event loop). Such a result changes no state, so an overloaded agent never takes
    /// healthy backends out of service.
    public var conclusive: Bool

    public init(success: Bool, reason: String, latency: Duration = .zero, conclusive: Bool = true) {
        self.success = success
        self.reason = reason
        self.latency = latency
        self.conclusive = conclusive
    }

    /// A probe that proves nothing, with why.
    public static func inconclusive(_ reason: String, latency: Duration = .zero) -> ProbeResult {
        ProbeResult(success: false, reason: reason, latency: latency, conclusive: false)
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
