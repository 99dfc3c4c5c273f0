/// A scheduling algorithm, by the name the kernel registers it under.
///
/// Open to any name: `Scheduler(rawValue: "foo")` is valid here and the kernel decides whether it exists
/// (it autoloads `ip_vs_foo` if it can).
public struct Scheduler: RawRepresentable, Hashable, Sendable, CustomStringConvertible,
    ExpressibleByStringLiteral
{
    public let rawValue: String
    public init(rawValue: String) { self.rawValue = rawValue }
    public init(stringLiteral value: String) { self.rawValue = value }

    /// Longest name the kernel stores, excluding the NUL. The C constant is `IP_VS_SCHEDNAME_MAXLEN` - 1.
    public static let maximumNameLength = 15

    public static let roundRobin: Scheduler = "rr"
    public static let weightedRoundRobin: Scheduler = "wrr"
    public static let leastConnection: Scheduler = "lc"
    public static let weightedLeastConnection: Scheduler = "wlc"
    public static let localityBasedLeastConnection: Scheduler = "lblc"
    public static let localityBasedLeastConnectionWithReplication: Scheduler = "lblcr"
    public static let destinationHashing: Scheduler = "dh"
    public static let sourceHashing: Scheduler = "sh"
    public static let shortestExpectedDelay: Scheduler = "sed"
    public static let neverQueue: Scheduler = "nq"
    public static let weightedFailover: Scheduler = "fo"
    public static let weightedOverflow: Scheduler = "ovf"
    public static let maglevHashing: Scheduler = "mh"
    public static let twoRandomChoices: Scheduler = "twos"

    /// The schedulers of mainline Linux, in ipvsadm's order.
    public static let known: [Scheduler] = [
        .roundRobin, .weightedRoundRobin, .leastConnection, .weightedLeastConnection,
        .localityBasedLeastConnection, .localityBasedLeastConnectionWithReplication, .destinationHashing,
        .sourceHashing, .shortestExpectedDelay, .neverQueue, .weightedFailover, .weightedOverflow,
        .maglevHashing, .twoRandomChoices,
    ]

    public var description: String { rawValue }
}
