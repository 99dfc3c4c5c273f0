/// The transport protocol of a virtual service.
public struct IPProtocol: RawRepresentable, Hashable, Sendable, Comparable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// TCP. The corresponding C constant is `IPPROTO_TCP`.
    public static let tcp = IPProtocol(rawValue: 6)
    /// UDP. The corresponding C constant is `IPPROTO_UDP`.
    public static let udp = IPProtocol(rawValue: 17)
    /// SCTP. The corresponding C constant is `IPPROTO_SCTP`.
    public static let sctp = IPProtocol(rawValue: 132)

    /// Parses `tcp`, `udp` or `sctp` (any case).
    public init?(name: String) {
        switch name.lowercased() {
        case "tcp": self = .tcp
        case "udp": self = .udp
        case "sctp": self = .sctp
        default: return nil
        }
    }

    public var description: String {
        switch self {
        case .tcp: "tcp"
        case .udp: "udp"
        case .sctp: "sctp"
        default: "proto\(rawValue)"
        }
    }

    public static func < (lhs: IPProtocol, rhs: IPProtocol) -> Bool { lhs.rawValue < rhs.rawValue }
}
