/// Traffic counters and rate estimates of a service or real server (`IPVS_*_ATTR_STATS64`).
///
/// The kernel folds its per-CPU counters into these totals every 2 seconds, so they trail traffic.
public struct Statistics: Hashable, Sendable {
    /// Connections scheduled.
    public var connections: UInt64 = 0
    public var incomingPackets: UInt64 = 0
    public var outgoingPackets: UInt64 = 0
    public var incomingBytes: UInt64 = 0
    public var outgoingBytes: UInt64 = 0
    /// Connections per second, estimated by the kernel over about 2 s.
    public var connectionRate: UInt64 = 0
    public var incomingPacketRate: UInt64 = 0
    public var outgoingPacketRate: UInt64 = 0
    /// Incoming bytes per second.
    public var incomingByteRate: UInt64 = 0
    public var outgoingByteRate: UInt64 = 0

    public init() {}
}

/// Connection timeouts, in seconds (`IPVS_CMD_SET_CONFIG`). When setting, 0 leaves a value unchanged.
public struct Timeouts: Hashable, Sendable {
    public var tcp: UInt32
    public var tcpFin: UInt32
    public var udp: UInt32

    public init(tcp: UInt32 = 0, tcpFin: UInt32 = 0, udp: UInt32 = 0) {
        self.tcp = tcp
        self.tcpFin = tcpFin
        self.udp = udp
    }
}

/// Facts about the kernel's IPVS (`IPVS_CMD_GET_INFO`).
public struct IPVSInfo: Hashable, Sendable {
    /// `IP_VS_VERSION_CODE`, such as 0x010201.
    public var versionCode: UInt32
    /// Buckets of the connection hash table.
    public var connectionTableSize: UInt32

    public init(versionCode: UInt32, connectionTableSize: UInt32) {
        self.versionCode = versionCode
        self.connectionTableSize = connectionTableSize
    }

    /// `1.2.1`.
    public var version: String {
        "\(versionCode >> 16 & 0xFF).\(versionCode >> 8 & 0xFF).\(versionCode & 0xFF)"
    }
}
