import IPVS
import YAMLSyntax

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The node addresses NodePort Services get virtual servers on (config `nodePortAddresses`, kube-proxy's
/// --nodeport-addresses).
enum NodePortAddresses {
    /// The host's addresses in `nodePortAddresses`, else its primary addresses (read in the agent's own
    /// namespace, so none when `networkNamespace` is set).
    static func resolve(_ configuration: AgentConfiguration, network: HostNetwork) throws(AgentError) -> [IPAddress] {
        let cidrs = configuration.nodePortAddresses.compactMap(IPNetwork.init)
        let host: Set<IPAddress>
        do throws(IPVSError) {
            host = try network.globalAddresses(excluding: configuration.interface)
        } catch {
            throw AgentError(.hostNetwork, "listing the node's addresses for node ports", cause: error)
        }
        let primary = cidrs.isEmpty && configuration.networkNamespace.isEmpty ? Self.primary() : []
        return select(cidrs: cidrs, host: host, primary: primary)
    }

    /// The host addresses inside any of `cidrs`; with no CIDRs, the primary addresses (kube-proxy's default,
    /// `primary`). Sorted, so the desired state does not depend on set order.
    static func select(cidrs: [IPNetwork], host: Set<IPAddress>, primary: [IPAddress]) -> [IPAddress] {
        if cidrs.isEmpty { return primary.filter { host.contains($0) }.sorted() }
        return host.filter { address in cidrs.contains { $0.contains(address) } }.sorted()
    }

    /// For each family, the source address the kernel picks for a destination off the default route: the
    /// node's primary address. A connected UDP socket sends nothing; the calling thread's namespace counts.
    static func primary() -> [IPAddress] {
        // Documentation addresses (TEST-NET-3, 2001:db8::/32): never routed anywhere, only looked up.
        [IPAddress("203.0.113.1")!, IPAddress("2001:db8::1")!].compactMap(sourceAddress(towards:))
    }

    private static func sourceAddress(towards destination: IPAddress) -> IPAddress? {
        let inet = destination.family == .inet
        let fd = socket(inet ? AF_INET : AF_INET6, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // sockaddr_storage fits either family; the port is any, nothing is sent.
        var peer = sockaddr_storage()
        let length: socklen_t
        if inet {
            var address = sockaddr_in()
            address.sin_family = sa_family_t(AF_INET)
            address.sin_port = UInt16(9).bigEndian
            withUnsafeMutableBytes(of: &address.sin_addr) { $0.copyBytes(from: destination.bytes) }
            withUnsafeMutableBytes(of: &peer) { target in withUnsafeBytes(of: address) { target.copyMemory(from: $0) } }
            length = socklen_t(MemoryLayout<sockaddr_in>.size)
        } else {
            var address = sockaddr_in6()
            address.sin6_family = sa_family_t(AF_INET6)
            address.sin6_port = UInt16(9).bigEndian
            withUnsafeMutableBytes(of: &address.sin6_addr) { $0.copyBytes(from: destination.bytes) }
            withUnsafeMutableBytes(of: &peer) { target in withUnsafeBytes(of: address) { target.copyMemory(from: $0) } }
            length = socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
        let connected = withUnsafePointer(to: &peer) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
        }
        guard connected == 0 else { return nil }
        var local = sockaddr_storage()
        var localLength = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let named = withUnsafeMutablePointer(to: &local) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &localLength) }
        }
        guard named == 0 else { return nil }
        if inet {
            let address = withUnsafeBytes(of: local) { $0.load(as: sockaddr_in.self) }
            return withUnsafeBytes(of: address.sin_addr) { IPAddress(bytes: $0) }
        }
        let address = withUnsafeBytes(of: local) { $0.load(as: sockaddr_in6.self) }
        return withUnsafeBytes(of: address.sin6_addr) { IPAddress(bytes: $0) }
    }
}
