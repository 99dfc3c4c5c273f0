import ServiceTables

/// A change of a target's health state.
public struct HealthTransition: Sendable, Hashable, CustomStringConvertible {
    public var target: HealthTarget
    public var from: HealthStatus.State
    /// The result of the probe that caused it: `ok`, `timeout`, `status 503`.
    public var reason: String
    /// The target's status right after it: what a consumer acts on, carried here so nobody asks the monitor
    /// again and finds a later status, or none once the target is gone.
    public var status: HealthStatus

    public init(target: HealthTarget, from: HealthStatus.State, reason: String, status: HealthStatus) {
        self.target = target
        self.from = from
        self.reason = reason
        self.status = status
    }

    public var to: HealthStatus.State { status.state }
    /// When it happened, in the monitor's clock.
    public var at: Duration { status.since }

    public var description: String { "\(target): \(from.rawValue) -> \(to.rawValue) (\(reason))" }
}

/// The rise/fall state machine of one target: pure, no clock, no I/O.
///
/// A fresh target starts `unknown` (it may serve). The first success confirms it `up`, since Kubernetes
/// already reported it ready; `fall` consecutive failures from `unknown` or `up` take it `down`; `rise`
/// consecutive successes bring a `down` target back `up`.
public struct HealthTracker: Sendable, Hashable {
    public let target: HealthTarget
    public private(set) var status: HealthStatus
    private var lastSuccess: Bool?

    /// - Parameter since: when the target was first seen, in the monitor's clock.
    public init(target: HealthTarget, since: Duration = .zero) {
        self.target = target
        self.status = HealthStatus(state: .unknown, lastResult: "", since: since, consecutive: 0)
    }

    /// Records a probe result at `now`; returns the transition when the state changed.
    public mutating func record(_ result: ProbeResult, at now: Duration) -> HealthTransition? {
        // Shown, but neither a success nor a failure: the streak and the state stay as they were.
        guard result.conclusive else {
            status.lastResult = result.reason
            return nil
        }
        status.consecutive = lastSuccess == result.success ? status.consecutive + 1 : 1
        lastSuccess = result.success
        status.lastResult = result.reason

        let newState: HealthStatus.State
        switch (status.state, result.success) {
        case (.unknown, true):
            newState = .up
        case (.down, true) where status.consecutive >= max(1, target.rise):
            newState = .up
        case (.unknown, false), (.up, false):
            newState = status.consecutive >= max(1, target.fall) ? .down : status.state
        default:
            newState = status.state
        }
        guard newState != status.state else { return nil }
        let from = status.state
        status.state = newState
        status.since = now
        return HealthTransition(target: target, from: from, reason: result.reason, status: status)
    }
}
