import IPVS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Name lookups behind ipvsadm's host and service names, kept behind a protocol so tests are deterministic.
public protocol NameResolver: Sendable {
    /// The IPv4 address of a host name (`gethostbyname`, first address), or nil.
    func ipv4Address(ofHost name: String) -> IPAddress?
    /// The port of a service name for `tcp`, `udp` or `sctp` (`getservbyname`), or nil.
    func port(ofService name: String, protocol: IPProtocol) -> UInt16?
    /// The host name of an address (`gethostbyaddr`), or nil.
    func hostName(of address: IPAddress) -> String?
    /// The service name of a port (`getservbyport`), or nil.
    func serviceName(ofPort port: UInt16, protocol: IPProtocol) -> String?
}

/// Resolves nothing: every name is unknown, every address prints as a number.
public struct NumericResolver: NameResolver {
    public init() {}
    public func ipv4Address(ofHost name: String) -> IPAddress? { nil }
    public func port(ofService name: String, protocol: IPProtocol) -> UInt16? { nil }
    public func hostName(of address: IPAddress) -> String? { nil }
    public func serviceName(ofPort port: UInt16, protocol: IPProtocol) -> String? { nil }
}

/// The C library's resolver, as ipvsadm uses it (`/etc/hosts`, DNS, `/etc/services`).
public struct SystemResolver: NameResolver {
    public init() {}

    private static func protocolName(_ proto: IPProtocol) -> String? {
        switch proto {
        case .tcp: "tcp"
        case .udp: "udp"
        case .sctp: "sctp"
        default: nil
        }
    }

    public func ipv4Address(ofHost name: String) -> IPAddress? {
        guard let host = gethostbyname(name), host.pointee.h_addrtype == AF_INET, host.pointee.h_length == 4,
            let list = host.pointee.h_addr_list, let first = list[0]
        else { return nil }
        let bytes = (0..<4).map { UInt8(bitPattern: first[$0]) }
        return IPAddress(bytes: bytes)
    }

    public func port(ofService name: String, protocol proto: IPProtocol) -> UInt16? {
        guard let protoName = Self.protocolName(proto), let entry = getservbyname(name, protoName) else { return nil }
        return UInt16(bigEndian: UInt16(truncatingIfNeeded: entry.pointee.s_port))
    }

    public func hostName(of address: IPAddress) -> String? {
        var bytes = address.bytes
        let af = address.family == .inet ? AF_INET : AF_INET6
        let host = bytes.withUnsafeMutableBytes { gethostbyaddr($0.baseAddress, socklen_t($0.count), af) }
        guard let host, let name = host.pointee.h_name else { return nil }
        return String(cString: name)
    }

    public func serviceName(ofPort port: UInt16, protocol proto: IPProtocol) -> String? {
        guard let protoName = Self.protocolName(proto),
            let entry = getservbyport(Int32(port.bigEndian), protoName),
            let name = entry.pointee.s_name
        else { return nil }
        return String(cString: name)
    }
}
