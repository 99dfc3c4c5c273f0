import HealthCheck
import ServiceTables
import Synchronization
import Testing

/// A prober that plays scripted results (default `ok`), records when each call started, and can hold
/// calls until released.
final class FakeProber: Prober {
    struct State {
        var scripts: [HealthTarget: [ProbeResult]] = [:]
        var calls: [(target: HealthTarget, at: Duration)] = []
        var inFlight = 0
        var maxInFlight = 0
        var holding = false
        var held: [CheckedContinuation<Void, Never>] = []
    }

    let state = Mutex(State())
    let clock: ManualHealthClock

    init(clock: ManualHealthClock) {
        self.clock = clock
    }

    func script(_ target: HealthTarget, _ results: [ProbeResult]) {
        state.withLock { $0.scripts[target] = results }
    }

    var calls: [(target: HealthTarget, at: Duration)] { state.withLock { $0.calls } }
    var inFlight: Int { state.withLock { $0.inFlight } }
    var maxInFlight: Int { state.withLock { $0.maxInFlight } }

    /// Holds every following call until `release()`.
    func hold() { state.withLock { $0.holding = true } }

    /// Lets the held calls finish and stops holding new ones.
    func release() {
        let held = state.withLock { state in
            state.holding = false
            defer { state.held = [] }
            return state.held
        }
        for call in held { call.resume() }
    }

    func probe(_ target: HealthTarget) async -> ProbeResult {
        let now = clock.now
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let proceed = state.withLock { state in
                state.calls.append((target, now))
                state.inFlight += 1
                state.maxInFlight = max(state.maxInFlight, state.inFlight)
                if state.holding { state.held.append(continuation) }
                return !state.holding
            }
            if proceed { continuation.resume() }
        }
        return state.withLock { state in
            state.inFlight -= 1
            guard var script = state.scripts[target], !script.isEmpty else { return .ok() }
            defer { state.scripts[target] = script }
            return script.removeFirst()
        }
    }
}

/// Waits (yielding) until `condition` holds; false after a minute, a guard against a hang, not timing. (Ten
/// seconds were too few on a loaded 2-core host, where tests blocking the concurrency pool on child processes
/// can hold both of its threads for that long.)
func eventually(_ condition: () -> Bool) async -> Bool {
    let limit = ContinuousClock.now.advanced(by: .seconds(60))
    while !condition() {
        guard ContinuousClock.now < limit else { return false }
        try? await Task.sleep(for: .milliseconds(1))
    }
    return true
}
