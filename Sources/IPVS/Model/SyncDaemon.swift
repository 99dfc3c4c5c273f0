internal import CNetlink

/// A connection-synchronisation daemon (`IPVS_CMD_ATTR_DAEMON`).
public struct SyncDaemon: Hashable, Sendable {
    /// Master (sends) or backup (receives).
    public struct State: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
        public let rawValue: UInt32
        public init(rawValue: UInt32) { self.rawValue = rawValue }

        /// The corresponding C constant is `IP_VS_STATE_MASTER`.
        public static let master = State(rawValue: UInt32(IP_VS_STATE_MASTER))
        /// The corresponding C constant is `IP_VS_STATE_BACKUP`.
        public static let backup = State(rawValue: UInt32(IP_VS_STATE_BACKUP))

        public var description: String {
            switch self {
            case .master: "master"
            case .backup: "backup"
            default: "state\(rawValue)"
            }
        }
    }

    public var state: State
    /// Multicast interface, at most 15 bytes.
    public var interface: String
    /// Sync ID (ipvsadm accepts 0...255).
    public var syncID: UInt32
    /// Largest sync message payload (Linux 4.3+); nil lets the kernel pick from the MTU.
    public var maximumLength: UInt16?
    /// Multicast group (Linux 4.3+); nil means 224.0.0.81.
    public var multicastGroup: IPAddress?
    /// Multicast base port (Linux 4.3+); nil means 8848.
    public var multicastPort: UInt16?
    /// Multicast TTL (Linux 4.3+); nil means 1.
    public var multicastTTL: UInt8?

    public init(
        state: State,
        interface: String,
        syncID: UInt32 = 0,
        maximumLength: UInt16? = nil,
        multicastGroup: IPAddress? = nil,
        multicastPort: UInt16? = nil,
        multicastTTL: UInt8? = nil
    ) {
        self.state = state
        self.interface = interface
        self.syncID = syncID
        self.maximumLength = maximumLength
        self.multicastGroup = multicastGroup
        self.multicastPort = multicastPort
        self.multicastTTL = multicastTTL
    }
}
