#if canImport(Glibc)
import Glibc
#endif

/// Hands freed heap pages back to the kernel after the agent's big transient allocations (parsing every
/// manifest, reading the whole table): glibc keeps them resident otherwise, and the agent's RSS would stay
/// at its peak.
enum FreedMemory {
    #if canImport(Glibc)
    private typealias Trim = @convention(c) (Int) -> Int32
    // malloc_trim is not in Swift's Glibc module; RTLD_DEFAULT (a null handle) finds it in libc.
    private static let trim: Trim? = dlsym(nil, "malloc_trim").map { unsafeBitCast($0, to: Trim.self) }
    #endif

    static func release() {
        #if canImport(Glibc)
        _ = trim?(0)
        #endif
    }
}
