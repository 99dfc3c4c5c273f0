/// A real server (the kernel calls it a destination) behind a virtual service.
public struct RealServer: Hashable, Sendable, Identifiable {
    /// What identifies a real server within its virtual service.
    public struct ID: Hashable, Sendable, Comparable, CustomStringConvertible {
        public var address: IPAddress
        public var port: UInt16

        public init(address: IPAddress, port: UInt16) {
            self.address = address
            self.port = port
        }

        /// `10.0.0.2:8080` or `[2001:db8::2]:8080`.
        public var description: String {
            address.family == .inet6 ? "[\(address)]:\(port)" : "\(address):\(port)"
        }

        public static func < (lhs: ID, rhs: ID) -> Bool { (lhs.address, lhs.port) < (rhs.address, rhs.port) }
    }

    public var address: IPAddress
    /// Port on the real server; 0 for firewall-mark services means "the client's destination port".
    public var port: UInt16
    public var forwarding: ForwardingMethod
    /// Relative share of new connections, within `RealServer.weights`; 0 is quiescent (no new connections).
    public var weight: UInt32
    /// Stop scheduling new connections above this many (0 = no limit).
    public var upperThreshold: UInt32
    /// Resume scheduling below this many (0 = no limit).
    public var lowerThreshold: UInt32
    /// Encapsulation for `.tunnel` forwarding.
    public var tunnelType: TunnelType
    /// Destination UDP port of GUE encapsulation (0 when unused).
    public var tunnelPort: UInt16
    public var tunnelFlags: TunnelFlags

    public var id: ID { ID(address: address, port: port) }

    /// The weights the kernel accepts: it keeps a destination's weight as an `int` and refuses negatives with
    /// EINVAL (net/netfilter/ipvs/ip_vs_ctl.c). Debian's ipvsadm 1.31 parses the same range; upstream's source and
    /// man page still say 65535, but the kernel and the ipvsadm users actually run accept more.
    public static let weights: ClosedRange<UInt32> = 0...UInt32(Int32.max)

    /// Creates a real server with ipvsadm's defaults: direct routing, weight 1, no thresholds.
    public init(
        address: IPAddress,
        port: UInt16,
        forwarding: ForwardingMethod = .directRouting,
        weight: UInt32 = 1,
        upperThreshold: UInt32 = 0,
        lowerThreshold: UInt32 = 0,
        tunnelType: TunnelType = .ipip,
        tunnelPort: UInt16 = 0,
        tunnelFlags: TunnelFlags = .noChecksum
    ) {
        self.address = address
        self.port = port
        self.forwarding = forwarding
        self.weight = weight
        self.upperThreshold = upperThreshold
        self.lowerThreshold = lowerThreshold
        self.tunnelType = tunnelType
        self.tunnelPort = tunnelPort
        self.tunnelFlags = tunnelFlags
    }
}

/// A real server as the kernel reports it, with its connection counts and counters.
public struct ObservedRealServer: Hashable, Sendable {
    public var realServer: RealServer
    public var activeConnections: UInt32
    public var inactiveConnections: UInt32
    /// Persistence templates pointing at this server.
    public var persistentConnections: UInt32
    public var statistics: Statistics

    public init(
        realServer: RealServer,
        activeConnections: UInt32 = 0,
        inactiveConnections: UInt32 = 0,
        persistentConnections: UInt32 = 0,
        statistics: Statistics = Statistics()
    ) {
        self.realServer = realServer
        self.activeConnections = activeConnections
        self.inactiveConnections = inactiveConnections
        self.persistentConnections = persistentConnections
        self.statistics = statistics
    }
}

extension ClosedRange where Bound == UInt32 {
    /// The same range as `Int`s, for parsers that read numbers as `Int`.
    public var asInts: ClosedRange<Int> { Int(lowerBound)...Int(upperBound) }
}
