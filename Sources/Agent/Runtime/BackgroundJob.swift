import Foundation
import Synchronization

/// Blocking work on its own OS thread, for kernel work that should overlap the sync the agent's actor is
/// running (a whole nftables write beside the VIP binding). A thread and not a task: the sync blocks one of
/// the cooperative pool's threads already, and on a 2-core node the pool has only two.
final class BackgroundJob<Value: Sendable>: Sendable {
    private let result = Mutex<Value?>(nil)
    private let done = DispatchSemaphore(value: 0)

    init(name: String, _ body: @escaping @Sendable () -> Value) {
        let thread = Thread { [self] in
            let value = body()
            result.withLock { $0 = value }
            done.signal()
        }
        thread.name = name
        thread.start()
    }

    /// The value, once the work has ended; every call after the first returns at once.
    func wait() -> Value {
        done.wait()
        done.signal()
        guard let value = result.withLock({ $0 }) else { preconditionFailure("signalled without a value") }
        return value
    }
}
