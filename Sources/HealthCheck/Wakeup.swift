import Synchronization

/// A loop's sleep that new work ends early: the loop waits for its next deadline or a ``signal()``,
/// whichever comes first. A signal sent while no one waits is kept, so the next wait returns at once: work
/// that arrives between the loop's look at its queue and its wait is not slept through.
///
/// The health monitor waits for its next due check; the agent's sync loop for its next debounce end or
/// periodic tick (without it, an event arriving during the sleep waited for the tick the loop had planned).
public final class Wakeup: Sendable {
    private struct State {
        /// A signal that came while no one waited: the next wait returns at once.
        var signalled = false
        var waiter: CheckedContinuation<Void, Never>?
    }

    private let state = Mutex(State())

    public init() {}

    /// Wakes the waiter, or the next one.
    public func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.signalled = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    /// Returns at a signal (or one kept), or when the task is cancelled.
    public func wait() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { (waiter: CheckedContinuation<Void, Never>) in
                // Cancelled before this ran: the handler below found no waiter to resume.
                let now = state.withLock { state -> Bool in
                    if state.signalled || Task.isCancelled {
                        state.signalled = false
                        return true
                    }
                    state.waiter = waiter
                    return false
                }
                if now { waiter.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }

    /// Returns when `sleep` (a clock's sleep until the loop's deadline) ends, at a signal, or when the task
    /// is cancelled, whichever comes first.
    public func wait(sleeping sleep: @escaping @Sendable () async throws -> Void) async {
        let signalled = state.withLock { state in
            defer { state.signalled = false }
            return state.signalled
        }
        guard !signalled else { return }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { try? await sleep() }
            group.addTask { await self.wait() }
            await group.next()
            group.cancelAll()
        }
    }
}
