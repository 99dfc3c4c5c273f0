import IPVS

/// How `-L` and `-S` print: ipvsadm's `FMT_*` flags.
public struct ListFormat: OptionSet, Hashable, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// `-n`: numeric addresses and ports. `FMT_NUMERIC`.
    public static let numeric = ListFormat(rawValue: 0x0001)
    /// `-S`: print rules that `-R` reads back. `FMT_RULE`.
    public static let rule = ListFormat(rawValue: 0x0002)
    /// `--stats`. `FMT_STATS`.
    public static let stats = ListFormat(rawValue: 0x0004)
    /// `--rate`. `FMT_RATE`.
    public static let rate = ListFormat(rawValue: 0x0008)
    /// `--thresholds`. `FMT_THRESHOLDS`.
    public static let thresholds = ListFormat(rawValue: 0x0010)
    /// `--persistent-conn`. `FMT_PERSISTENTCONN`.
    public static let persistentConnections = ListFormat(rawValue: 0x0020)
    /// `--nosort`: kernel order. `FMT_NOSORT`.
    public static let noSort = ListFormat(rawValue: 0x0040)
    /// `--exact`: no K/M/G/T abbreviation. `FMT_EXACT`.
    public static let exact = ListFormat(rawValue: 0x0080)
    /// `--tun-info`. `FMT_TUN_INFO`.
    public static let tunnelInfo = ListFormat(rawValue: 0x0100)
}

/// What `-L` lists.
public enum ListTarget: Hashable, Sendable {
    /// Every service (`-L`).
    case all
    /// One service (`-L -t ADDR`).
    case service(VirtualServer.ID)
    /// `-L --timeout`.
    case timeouts
    /// `-L --daemon`.
    case daemons
    /// `-L -c`: the connection table.
    case connections
}

/// One ipvsadm command line, parsed and validated: what it does to the kernel or prints.
public enum AdminCommand: Hashable, Sendable {
    /// A command that changes the kernel: `-A -E -D -a -e -d -C -Z --set --start-daemon --stop-daemon`.
    case change(IPVSOperation)
    case list(ListTarget, ListFormat)
    /// `-S [-n]`; the format always holds `.rule`.
    case save(ListFormat)
    /// `-R`: read rules from standard input.
    case restore
    /// `-h`.
    case help
    /// `-v`.
    case version

    /// The kernel operation of a command that changes state, nil for reads, help and restore.
    public var operation: IPVSOperation? {
        if case .change(let operation) = self { operation } else { nil }
    }
}

/// A failure that ends an ipvsctl command: the text for standard error and the exit status.
public struct AdminError: Error, Hashable, Sendable, CustomStringConvertible {
    /// What to print on standard error, without the final newline.
    public var message: String
    /// The process exit status (ipvsadm's: 2 for bad input, 255 for kernel refusals and popt errors, 1 for
    /// failed reads).
    public var status: Int32

    public init(_ message: String, status: Int32) {
        self.message = message
        self.status = status
    }

    public var description: String { message }

    /// ipvsadm's `fail(2, ...)`.
    static func usage(_ message: String) -> AdminError { AdminError(message, status: 2) }
}
