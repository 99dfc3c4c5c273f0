#if canImport(Glibc)
import Glibc
#endif

/// How ipvsd uses glibc's heap. Neither call is in Swift's Glibc module (malloc.h is not part of it);
/// RTLD_DEFAULT (a null handle) finds both in libc. On another libc both do nothing.
public enum HeapPolicy {
    #if canImport(Glibc)
    private typealias Trim = @convention(c) (Int) -> Int32
    private typealias Option = @convention(c) (Int32, Int32) -> Int32
    private static let trim: Trim? = dlsym(nil, "malloc_trim").map { unsafeBitCast($0, to: Trim.self) }
    private static let option: Option? = dlsym(nil, "mallopt").map { unsafeBitCast($0, to: Option.self) }
    /// malloc.h's M_ARENA_MAX.
    private static let arenaMax: Int32 = -8
    #endif

    /// One malloc arena for the whole process, unless MALLOC_ARENA_MAX says otherwise. glibc gives each
    /// contending thread an arena of its own (up to 8 per core), and memory freed in one arena serves only
    /// that arena: the decode on a worker thread, the sync on the actor's and the event loops each kept
    /// their own high-water mark, and the sum stayed resident. ipvsd's large allocations happen one phase
    /// at a time, so the lock they now share is rarely contended. Call before any thread starts.
    public static func useOneArena() {
        #if canImport(Glibc)
        guard getenv("MALLOC_ARENA_MAX") == nil else { return }
        _ = option?(arenaMax, 1)
        #endif
    }

    /// Hands freed heap pages back to the kernel after the agent's big transient allocations (parsing every
    /// manifest, reading the whole table): glibc keeps them resident otherwise, and the agent's RSS would stay
    /// at its peak.
    static func returnFreedPages() {
        #if canImport(Glibc)
        _ = trim?(0)
        #endif
    }
}
