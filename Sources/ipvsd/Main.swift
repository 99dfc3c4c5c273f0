import Agent
import Dispatch

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// ipvsd's entry point. Synchronous on purpose: it raises RLIMIT_NOFILE before anything starts
/// libdispatch, which the concurrency runtime brings up for an async `main` and which traps (SIGILL)
/// when it cannot get its own descriptors (`ulimit -n 5`). A limit too low for even the core is
/// reported here; each command then checks the full ``ResourceBudget`` for its configuration.
@main
enum Main {
    static func main() {
        HeapPolicy.configure()
        do {
            let limit = try ResourceBudget.raiseDescriptorLimit()
            guard limit >= ResourceBudget.coreReserve else {
                fail(
                    "the open-file limit (RLIMIT_NOFILE) is \(limit) and its hard limit allows no more; ipvsd needs "
                        + "at least \(ResourceBudget.coreReserve) to start: raise it (LimitNOFILE=, ulimit -n)"
                )
            }
        } catch {
            fail(error.description)
        }
        Task {
            await IPVSD.main()
            exit(0)
        }
        dispatchMain()
    }

    private static func fail(_ message: String) -> Never {
        let line = Array("ipvsd: \(message)\n".utf8)
        _ = line.withUnsafeBytes { write(2, $0.baseAddress, $0.count) }
        exit(1)
    }
}
