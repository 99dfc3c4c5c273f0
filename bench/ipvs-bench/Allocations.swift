import Foundation
import MallocInterposerSwift

#if canImport(Glibc)
import Glibc
#endif

/// Heap allocations counted by ordo-one's malloc interposer, which must be preloaded (`LD_PRELOAD`) to see
/// `malloc`; `native` re-executes itself with it when SwiftPM built the library next to the binary.
enum Allocations {
    static let library = "libMallocInterposerSwift.so"
    nonisolated(unsafe) private static var sink: [UInt8] = []

    /// Whether allocations are being seen (the interposer is preloaded).
    static let counting: Bool = {
        // Through a global, so the optimizer cannot drop the allocation.
        count { sink = [UInt8](repeating: 1, count: 64) } > 0
    }()

    /// Allocations made by `body`.
    static func count(_ body: () -> Void) -> Int {
        MallocInterposerSwift.initialize()
        MallocInterposerSwift.hook()
        body()
        MallocInterposerSwift.unhook()
        return MallocInterposerSwift.getStatistics().mallocCount
    }

    /// Re-executes this process with the interposer preloaded, when it is not and the library is there.
    /// Returns only when it does not re-execute.
    static func preloadIfPossible() {
        guard !counting, ProcessInfo.processInfo.environment["IPVS_BENCH_PRELOADED"] == nil else { return }
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let path = executable.deletingLastPathComponent().appendingPathComponent(library).path
        guard FileManager.default.fileExists(atPath: path) else { return }
        setenv("LD_PRELOAD", path, 1)
        setenv("IPVS_BENCH_PRELOADED", "1", 1)  // no loop if preloading fails to take effect
        let arguments = CommandLine.arguments.map { strdup($0) } + [nil]
        execv(executable.path, arguments)
        print("ipvs-bench: cannot re-execute with \(library): \(String(cString: strerror(errno)))")
    }
}
