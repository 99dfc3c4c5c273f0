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
    /// malloc.h's M_ARENA_MAX, M_MMAP_THRESHOLD and M_TRIM_THRESHOLD.
    private static let arenaMax: Int32 = -8
    private static let mmapThreshold: Int32 = -3
    private static let trimThreshold: Int32 = -1
    #endif

    /// How often incremental syncs may return freed pages (`malloc_trim` walks the whole heap).
    static let trimInterval: Duration = .seconds(5)

    /// Sets glibc's heap for a long-running daemon whose large allocations are transient; each setting
    /// yields to its MALLOC_* environment variable. Call before any thread starts.
    ///
    /// - One arena. glibc gives each contending thread an arena of its own (up to 8 per core), and memory
    ///   freed in one arena serves only that arena: the decode on a worker thread, the sync on the actor's
    ///   and the event loops each kept their own high-water mark, and the sum stayed resident. ipvsd's
    ///   large allocations happen one phase at a time, so the lock they now share is rarely contended.
    /// - Fixed mmap (256 KiB) and trim (1 MiB) thresholds. By default glibc raises both after a large
    ///   block is freed (up to 32 and 64 MiB), after which a full table's arrays come from the heap and up
    ///   to 64 MiB of freed memory at its top stays resident. Fixed, large blocks are mapped and returned
    ///   whole when freed.
    public static func configure() {
        #if canImport(Glibc)
        if getenv("MALLOC_ARENA_MAX") == nil { _ = option?(arenaMax, 1) }
        if getenv("MALLOC_MMAP_THRESHOLD_") == nil { _ = option?(mmapThreshold, 256 << 10) }
        if getenv("MALLOC_TRIM_THRESHOLD_") == nil { _ = option?(trimThreshold, 1 << 20) }
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
