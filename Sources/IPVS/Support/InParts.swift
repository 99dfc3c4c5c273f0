import Dispatch
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Work over many independent items, split into contiguous parts that run on several threads at once.
///
/// For the CPU-bound passes over a whole table that nothing else can overlap: validating an `ipvsctl -R`
/// file before the kernel sees any of it, building every Service after the first lists. Each part runs on
/// its own thread (the caller's included) and its result comes back in order, so the outcome is the same
/// as one pass whatever the core count.
public enum InParts {
    /// Threads for one job, whatever the core count: the agent shares the node with its workloads.
    public static let maximumParts = min(4, max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    /// Runs `body` over `0..<count` split into at most ``maximumParts`` contiguous ranges of at least
    /// `minimumPerPart` items (one range, on the calling thread, when `count` is below twice that), and
    /// returns each range's result in range order.
    public static func map<Part: Sendable>(
        count: Int,
        minimumPerPart: Int,
        _ body: @Sendable (Range<Int>) -> Part
    ) -> [Part] {
        let parts = max(1, min(count / max(1, minimumPerPart), maximumParts))
        if parts == 1 { return [body(0..<count)] }
        let results = Mutex<[Part?]>(Array(repeating: nil, count: parts))
        DispatchQueue.concurrentPerform(iterations: parts) { part in
            let result = body((count * part / parts)..<(count * (part + 1) / parts))
            results.withLock { $0[part] = result }
        }
        return results.withLock { $0.map { $0! } }
    }
}
