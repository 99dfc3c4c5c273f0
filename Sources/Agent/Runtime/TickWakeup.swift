import Synchronization

/// Ends the sync loop's sleep early when new work makes a tick due sooner than the loop planned.
///
/// The loop sleeps until the earlier of the next debounce end and its periodic tick, as the agent said
/// before it slept. An event that arrives during that sleep sets a new debounce end, and without a signal it
/// would wait for the planned wake-up too: up to a whole periodic tick (250 ms) after its debounce. One
/// endpoint change then took ~150 or ~260 ms from watch event to kernel at 10k x 10 in the VM, depending on
/// where in the tick it fell.
final class TickWakeup: Sendable {
    private struct State {
        /// A signal that came while no one slept: the next sleep returns at once.
        var signalled = false
        var sleeper: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    /// Wakes the sleeper, or the next one.
    func signal() {
        let sleeper = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let sleeper = state.sleeper else {
                state.signalled = true
                return nil
            }
            state.sleeper = nil
            return sleeper
        }
        sleeper?.resume()
    }

    /// Sleeps until `deadline`, a signal, or cancellation, whichever comes first.
    func sleep(until deadline: ContinuousClock.Instant) async {
        let signalled = state.withLock { state in
            defer { state.signalled = false }
            return state.signalled
        }
        guard !signalled else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await Task.sleep(until: deadline) }
            group.addTask { await self.waitForSignal() }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForSignal() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                // Cancelled before this ran: the handler below found no sleeper to resume.
                let now = state.withLock { state -> Bool in
                    if state.signalled || Task.isCancelled {
                        state.signalled = false
                        return true
                    }
                    state.sleeper = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            let sleeper = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.sleeper = nil }
                return state.sleeper
            }
            sleeper?.resume()
        }
    }
}
