import Logging
import Metrics
import NIOCore
import ServiceTables
import Synchronization

/// Runs the active health checks: probes every target on its schedule, tracks rise/fall and reports
/// each change of state on `transitions`.
///
/// One timer drives everything: the run loop sleeps until the earliest deadline in a heap (or until new
/// targets or a freed concurrency slot wake it), starts the checks that are due, and sleeps again.
public final class HealthMonitor: Sendable {
    /// Every change of a target's state, in order; meant for one consumer (the agent).
    public let transitions: AsyncStream<HealthTransition>

    private struct State {
        var schedule: HealthSchedule
        var trackers: [HealthTarget: HealthTracker] = [:]
        var ready = CheckQueue()
        var inFlight = 0
        /// When the last "overloaded" warning was logged, so a starved checker does not flood the log.
        var lastOverloadWarning: Duration?
        var inconclusiveSinceWarning = 0
    }

    private let state: Mutex<State>
    private let wakeup = Wakeup()
    private let continuation: AsyncStream<HealthTransition>.Continuation
    private let prober: any Prober
    /// The same prober when it can start checks without a task each (TCP on `NIOProber`).
    private let taskless: NIOProber?
    private let clock: any HealthClock
    private let maxConcurrentChecks: Int
    private let logger: Logger
    private let metrics: HealthMetrics

    /// A monitor probing real sockets on `eventLoopGroup`.
    public convenience init(
        eventLoopGroup: any EventLoopGroup,
        clock: some HealthClock = ContinuousHealthClock(),
        maxConcurrentChecks: Int = 1024,
        logger: Logger,
        metricsFactory: (any MetricsFactory)? = nil
    ) {
        self.init(
            prober: NIOProber(group: eventLoopGroup),
            clock: clock,
            maxConcurrentChecks: maxConcurrentChecks,
            logger: logger,
            metricsFactory: metricsFactory
        )
    }

    /// A monitor with any prober (tests script one).
    /// - Parameter metricsFactory: where metrics go; the process-wide `MetricsSystem.factory` when nil.
    public init(
        prober: some Prober,
        clock: some HealthClock = ContinuousHealthClock(),
        maxConcurrentChecks: Int = 1024,
        logger: Logger,
        metricsFactory: (any MetricsFactory)? = nil
    ) {
        self.prober = prober
        self.taskless = prober as? NIOProber
        self.clock = clock
        self.maxConcurrentChecks = max(1, maxConcurrentChecks)
        self.logger = logger
        self.metrics = HealthMetrics(factory: metricsFactory ?? MetricsSystem.factory)
        self.state = Mutex(State(schedule: HealthSchedule()))
        (transitions, continuation) = AsyncStream.makeStream(of: HealthTransition.self)
    }

    deinit {
        continuation.finish()
    }

    /// Makes the monitor check exactly `targets`: new ones start `unknown` with a first check spread over
    /// one interval, existing ones keep their state, removed ones stop being probed.
    public func setTargets(_ targets: Set<HealthTarget>) {
        reschedule { schedule, now in schedule.setTargets(targets, now: now) }
    }

    /// Adds and removes targets: O(change). Added ones start `unknown` with a first check spread over one
    /// interval; removed ones stop being probed.
    public func changeTargets(_ changes: HealthTargetChanges) {
        guard !changes.isEmpty else { return }
        reschedule { schedule, now in
            schedule.changeTargets(adding: changes.added, removing: changes.removed, now: now)
        }
    }

    /// Applies a change of the schedule's targets, then starts trackers for the added ones and drops the
    /// removed ones' (the one place both `setTargets` and `changeTargets` end).
    private func reschedule(
        _ change: (inout HealthSchedule, Duration) -> (added: [HealthTarget], removed: [HealthTarget])
    ) {
        let now = clock.now
        state.withLock { state in
            let (added, removed) = change(&state.schedule, now)
            for target in removed { state.trackers[target] = nil }
            for target in added { state.trackers[target] = HealthTracker(target: target, since: now) }
        }
        wake()
    }

    /// The target's current status; `unknown` for a target the monitor does not check.
    public func status(of target: HealthTarget) -> HealthStatus {
        state.withLock { $0.trackers[target]?.status } ?? HealthStatus()
    }

    /// Every checked target's current status.
    public func statuses() -> [HealthTarget: HealthStatus] {
        state.withLock { state in state.trackers.mapValues(\.status) }
    }

    /// The monitor's clock now, the time base of every status's `since`.
    public var now: Duration { clock.now }

    /// Checks running now.
    public var checksInFlight: Int { state.withLock { $0.inFlight } }

    /// Checks due but waiting for a free slot under `maxConcurrentChecks`.
    public var checksQueued: Int { state.withLock { $0.ready.count } }

    /// Runs the schedule until the task is cancelled, then waits for the checks in flight.
    public func run() async {
        // The wait ends on cancellation (`Wakeup`), so the loop sees it without a handler of its own.
        await withDiscardingTaskGroup { group in
            while !Task.isCancelled {
                let now = clock.now
                let (launch, deadline) = state.withLock { state in
                    state.ready.append(contentsOf: state.schedule.takeDue(at: now).map(\.target))
                    var launch: [HealthTarget] = []
                    while state.inFlight < maxConcurrentChecks, let target = state.ready.popFirst() {
                        guard state.schedule.contains(target) else { continue }
                        state.inFlight += 1
                        launch.append(target)
                    }
                    return (launch, state.schedule.nextDeadline())
                }
                for target in launch {
                    let started = taskless?.start(target) { result in self.finish(target, result) } ?? false
                    if !started { group.addTask { self.finish(target, await self.prober.probe(target)) } }
                }
                await waitForWork(until: deadline)
            }
        }
    }

    /// Records a check's result; runs on the task that probed, or on the TCP checker's thread.
    private func finish(_ target: HealthTarget, _ result: ProbeResult) {
        let now = clock.now
        let (transition, moreQueued, overloadWarning) = state.withLock { state in
            state.inFlight -= 1
            state.schedule.finished(target)
            let transition = state.trackers[target]?.record(result, at: now)
            var warning: Int?
            if !result.conclusive {
                state.inconclusiveSinceWarning += 1
                if state.lastOverloadWarning.map({ now - $0 >= Self.overloadWarningInterval }) ?? true {
                    warning = state.inconclusiveSinceWarning
                    state.inconclusiveSinceWarning = 0
                    state.lastOverloadWarning = now
                }
            }
            return (transition, !state.ready.isEmpty, warning)
        }
        metrics.recordCheck(target.kind, result)
        if let overloadWarning {
            logger.warning(
                "health checker overloaded: late timeouts are not counted as failures",
                metadata: [
                    "inconclusive_checks": "\(overloadWarning)", "example": "\(target): \(result.reason)",
                    "fix": "fewer or slower checks (health.interval, ipvsd.io/health-interval) or more CPU",
                ]
            )
        }
        if let transition {
            report(transition)
        }
        if moreQueued { wake() }
    }

    static let overloadWarningInterval: Duration = .seconds(30)

    private func report(_ transition: HealthTransition) {
        metrics.recordTransition(to: transition.to)
        let metadata: Logger.Metadata = [
            "target": "\(transition.target)", "from": "\(transition.from.rawValue)",
            "to": "\(transition.to.rawValue)", "reason": "\(transition.reason)",
        ]
        if transition.to == .down {
            logger.notice("health check failed: target down", metadata: metadata)
        } else {
            logger.info("health check passed: target up", metadata: metadata)
        }
        continuation.yield(transition)
    }

    /// Sleeps until `deadline` or until `wake()`, whichever comes first.
    private func waitForWork(until deadline: Duration?) async {
        guard let deadline else { return await wakeup.wait() }
        if deadline <= clock.now { return }
        await wakeup.wait(sleeping: { [clock] in try await clock.sleep(until: deadline) })
    }

    private func wake() { wakeup.signal() }
}

/// A FIFO of due checks waiting for a concurrency slot.
struct CheckQueue {
    private var items: [HealthTarget] = []
    private var head = 0

    var count: Int { items.count - head }
    var isEmpty: Bool { head == items.count }

    mutating func append(contentsOf targets: [HealthTarget]) {
        items.append(contentsOf: targets)
    }

    mutating func popFirst() -> HealthTarget? {
        guard head < items.count else { return nil }
        defer {
            head += 1
            if head == items.count {
                items.removeAll(keepingCapacity: true)
                head = 0
            }
        }
        return items[head]
    }
}
