import Synchronization

/// The monitor's notion of time, as a duration since the clock's start, so tests can drive it.
public protocol HealthClock: Sendable {
    /// The time now, since the clock's start.
    var now: Duration { get }
    /// Suspends until `now >= deadline`; throws `CancellationError` when the task is cancelled.
    func sleep(until deadline: Duration) async throws
}

/// Real time: the continuous clock (it keeps counting while the machine is suspended).
public struct ContinuousHealthClock: HealthClock {
    private let origin: ContinuousClock.Instant

    public init() {
        origin = ContinuousClock.now
    }

    public var now: Duration { origin.duration(to: .now) }

    public func sleep(until deadline: Duration) async throws {
        try await Task.sleep(until: origin.advanced(by: deadline), tolerance: nil, clock: .continuous)
    }
}

/// A clock that only moves when told to: tests advance it and the sleepers whose deadline passed wake up.
public final class ManualHealthClock: HealthClock {
    private struct Sleeper {
        var id: UInt64
        var deadline: Duration
        var continuation: CheckedContinuation<Void, any Error>
    }

    private struct State {
        var now: Duration
        var nextID: UInt64 = 0
        var sleepers: [Sleeper] = []
    }

    private let state: Mutex<State>

    public init(now: Duration = .zero) {
        state = Mutex(State(now: now))
    }

    public var now: Duration { state.withLock { $0.now } }

    /// The deadlines of the tasks sleeping now, earliest first.
    public var sleepingDeadlines: [Duration] {
        state.withLock { $0.sleepers.map(\.deadline).sorted() }
    }

    /// Moves time forward by `duration`.
    public func advance(by duration: Duration) {
        advance(to: now + duration)
    }

    /// Moves time to `instant` (never backwards) and wakes the sleepers whose deadline it reached.
    public func advance(to instant: Duration) {
        let woken = state.withLock { state -> [Sleeper] in
            state.now = max(state.now, instant)
            let now = state.now
            let due = state.sleepers.filter { $0.deadline <= now }
            state.sleepers.removeAll { $0.deadline <= now }
            return due
        }
        for sleeper in woken { sleeper.continuation.resume() }
    }

    public func sleep(until deadline: Duration) async throws {
        let id = state.withLock { state -> UInt64 in
            state.nextID += 1
            return state.nextID
        }
        try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
                let immediate: (any Error)?? = state.withLock { state in
                    if Task.isCancelled { return .some(CancellationError()) }
                    if deadline <= state.now { return .some(nil) }
                    state.sleepers.append(Sleeper(id: id, deadline: deadline, continuation: continuation))
                    return .none
                }
                switch immediate {
                case .some(.some(let error)): continuation.resume(throwing: error)
                case .some(.none): continuation.resume()
                case .none: break
                }
            }
        } onCancel: {
            let cancelled = state.withLock { state -> Sleeper? in
                guard let index = state.sleepers.firstIndex(where: { $0.id == id }) else { return nil }
                return state.sleepers.remove(at: index)
            }
            cancelled?.continuation.resume(throwing: CancellationError())
        }
    }
}
