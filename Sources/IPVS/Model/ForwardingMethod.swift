internal import CNetlink

/// How IPVS forwards packets to a real server (`IPVS_DEST_ATTR_FWD_METHOD`).
public struct ForwardingMethod: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// NAT. The corresponding C constant is `IP_VS_CONN_F_MASQ`.
    public static let masquerade = ForwardingMethod(rawValue: UInt32(IP_VS_CONN_F_MASQ))
    /// The real server is this host. `IP_VS_CONN_F_LOCALNODE`.
    public static let local = ForwardingMethod(rawValue: UInt32(IP_VS_CONN_F_LOCALNODE))
    /// IP-in-IP (or GUE, GRE) tunnelling. `IP_VS_CONN_F_TUNNEL`.
    public static let tunnel = ForwardingMethod(rawValue: UInt32(IP_VS_CONN_F_TUNNEL))
    /// Direct routing ("gatewaying"), ipvsadm's default. `IP_VS_CONN_F_DROUTE`.
    public static let directRouting = ForwardingMethod(rawValue: UInt32(IP_VS_CONN_F_DROUTE))
    /// Cache bypass. `IP_VS_CONN_F_BYPASS`.
    public static let bypass = ForwardingMethod(rawValue: UInt32(IP_VS_CONN_F_BYPASS))

    /// The bits of the connection flags that hold the method. `IP_VS_CONN_F_FWD_MASK`.
    static let mask = UInt32(IP_VS_CONN_F_FWD_MASK)

    public var description: String {
        switch self {
        case .masquerade: "masquerade"
        case .local: "local"
        case .tunnel: "tunnel"
        case .directRouting: "direct-routing"
        case .bypass: "bypass"
        default: "method\(rawValue)"
        }
    }
}

/// The encapsulation of a tunnelled real server (`IPVS_DEST_ATTR_TUN_TYPE`, Linux 5.2+).
public struct TunnelType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt8
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// IP in IP, the kernel's default. `IP_VS_CONN_F_TUNNEL_TYPE_IPIP`.
    public static let ipip = TunnelType(rawValue: UInt8(IP_VS_CONN_F_TUNNEL_TYPE_IPIP))
    /// Generic UDP Encapsulation; needs a tunnel port. `IP_VS_CONN_F_TUNNEL_TYPE_GUE`.
    public static let gue = TunnelType(rawValue: UInt8(IP_VS_CONN_F_TUNNEL_TYPE_GUE))
    /// GRE (Linux 5.3+). `IP_VS_CONN_F_TUNNEL_TYPE_GRE`.
    public static let gre = TunnelType(rawValue: UInt8(IP_VS_CONN_F_TUNNEL_TYPE_GRE))

    public var description: String {
        switch self {
        case .ipip: "ipip"
        case .gue: "gue"
        case .gre: "gre"
        default: "tunnel\(rawValue)"
        }
    }
}

/// Checksum options of GUE and GRE tunnels (`IPVS_DEST_ATTR_TUN_FLAGS`, Linux 5.3+).
public struct TunnelFlags: OptionSet, Hashable, Sendable {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// No checksum (the empty set). `IP_VS_TUNNEL_ENCAP_FLAG_NOCSUM`.
    public static let noChecksum: TunnelFlags = []
    /// Outer checksum. `IP_VS_TUNNEL_ENCAP_FLAG_CSUM`.
    public static let checksum = TunnelFlags(rawValue: UInt16(IP_VS_TUNNEL_ENCAP_FLAG_CSUM))
    /// Remote checksum offload. `IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM`.
    public static let remoteChecksum = TunnelFlags(rawValue: UInt16(IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM))
}
