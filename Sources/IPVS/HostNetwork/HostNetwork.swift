import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The host side of a load balancer in one network namespace: the dummy interface, the local routes (or
/// addresses) that make the host accept the virtual addresses, and sysctls.
///
/// Thread-safe: link and address requests are serialized on one NETLINK_ROUTE socket connected inside the
/// namespace. Sysctl files are opened on a short-lived thread inside the namespace; the caller's threads
/// never change namespace.
public final class HostNetwork: Sendable {
    /// The namespace this instance changes.
    public let namespace: NetworkNamespace
    /// nil after a failure left the socket in an unknown state: the next request opens a new one.
    private let socket: Mutex<SocketSlot<RouteSocket>>

    /// Opens a route netlink socket in `namespace`.
    /// - Throws: ``IPVSError/Code/connectionFailed`` or ``IPVSError/Code/notFound`` (no such namespace).
    public init(namespace: NetworkNamespace = .current) throws(IPVSError) {
        self.namespace = namespace
        self.socket = Mutex(SocketSlot(socket: try RouteSocket(namespace: namespace)))
    }

    /// Runs `body` with the open socket, reopening it if an earlier failure closed it, as `IPVSClient` does.
    private func withSocket<R: Sendable>(_ body: (RouteSocket) throws(IPVSError) -> R) throws(IPVSError) -> R {
        let namespace = namespace
        return try socket.withLock { (slot: inout SocketSlot<RouteSocket>) throws(IPVSError) -> R in
            try slot.use(open: { () throws(IPVSError) -> RouteSocket in try RouteSocket(namespace: namespace) }, body)
        }
    }

    /// Test hook: breaks the open socket so the next request fails and the one after reopens it.
    func breakSocketForTesting() {
        socket.withLock { $0.socket?.breakForTesting() }
    }

    /// Creates the dummy interface if missing (type dummy), and sets it up. Idempotent. Returns its index.
    ///
    /// An existing interface of another type with that name is an error naming it.
    /// - Throws: ``IPVSError/Code/alreadyExists`` when `name` is taken by another kind of interface,
    ///   ``IPVSError/Code/invalidInput`` for a name the kernel would refuse.
    @discardableResult
    public func ensureDummyInterface(named name: String) throws(IPVSError) -> Int32 {
        try Self.validateInterfaceName(name)
        return try withSocket { (socket: RouteSocket) throws(IPVSError) -> Int32 in
            // Look, create, look again: another process creating the same name in between is harmless.
            for _ in 0..<3 {
                if let link = try socket.link(named: name) {
                    guard link.type == "dummy" else {
                        let kind = link.type.map { "a \($0) interface" } ?? "an interface without a link type"
                        throw IPVSError(
                            .alreadyExists,
                            "cannot use \(name) as the dummy interface: \(name) exists and is \(kind), not dummy",
                            errno: EEXIST
                        )
                    }
                    if !link.isUp { try socket.setUp(named: name) }
                    return link.index
                }
                do throws(IPVSError) {
                    try socket.createLink(named: name, type: "dummy")
                } catch  where error.code == .alreadyExists {
                    continue
                }
            }
            throw IPVSError(.kernel, "cannot create dummy interface \(name): it keeps appearing and disappearing")
        }
    }

    /// Sets an existing interface up when it is down (a fresh namespace's `lo` is). Idempotent.
    /// - Throws: ``IPVSError/Code/notFound`` when the interface does not exist.
    public func ensureUp(_ name: String) throws(IPVSError) {
        try Self.validateInterfaceName(name)
        try withSocket { (socket: RouteSocket) throws(IPVSError) in
            guard let link = try socket.link(named: name) else {
                throw IPVSError(.notFound, "cannot set interface \(name) up: it does not exist", errno: ENODEV)
            }
            if !link.isUp { try socket.setUp(named: name) }
        }
    }

    /// The addresses on an interface (IPv4 and IPv6, excluding IPv6 link-local).
    /// - Throws: ``IPVSError/Code/notFound`` when the interface does not exist.
    public func addresses(on interface: String) throws(IPVSError) -> Set<IPAddress> {
        try Self.validateInterfaceName(interface)
        return try withSocket { (socket: RouteSocket) throws(IPVSError) -> Set<IPAddress> in
            let index = try socket.index(of: interface, for: "list the addresses of \(interface)")
            let assigned = try socket.addresses(ifindex: index, interface: interface)
            return Set(assigned.filter { !$0.isIPv6LinkLocal }.map(\.address))
        }
    }

    /// The single-host addresses (/32 IPv4, /128 IPv6) on an interface, IPv6 link-local excluded.
    /// - Throws: ``IPVSError/Code/notFound`` when the interface does not exist.
    public func hostAddresses(on interface: String) throws(IPVSError) -> [IPAddress] {
        try Self.validateInterfaceName(interface)
        return try withSocket { (socket: RouteSocket) throws(IPVSError) -> [IPAddress] in
            let index = try socket.index(of: interface, for: "list the addresses of \(interface)")
            return try socket.addresses(ifindex: index, interface: interface).filter {
                !$0.isIPv6LinkLocal && $0.prefixLength == Self.hostPrefixLength($0.address)
            }.map(\.address)
        }
    }

    /// The host's global-scope addresses on every interface but `excluded` (the agent's own), for node ports.
    /// Loopback and link-local addresses are left out: they are never a node address.
    public func globalAddresses(excluding excluded: String) throws(IPVSError) -> Set<IPAddress> {
        try Self.validateInterfaceName(excluded)
        return try withSocket { (socket: RouteSocket) throws(IPVSError) -> Set<IPAddress> in
            let skip = try socket.link(named: excluded).map(\.index)
            let assigned = try socket.addresses(ifindex: nil, interface: "every interface")
            return Set(
                assigned.filter { $0.scope == 0 && !$0.isIPv6LinkLocal && $0.ifindex != skip }.map(\.address)
            )
        }
    }

    /// Adds a host address (/32 or /128; IPv6 with IFA_F_NODAD so it is usable at once). Idempotent.
    /// - Throws: ``IPVSError/Code/notFound`` when the interface does not exist.
    public func add(_ address: IPAddress, to interface: String) throws(IPVSError) {
        try Self.validateInterfaceName(interface)
        let prefix = Self.hostPrefixLength(address)
        try withSocket { (socket: RouteSocket) throws(IPVSError) in
            let index = try socket.index(of: interface, for: "add \(address)/\(prefix) to \(interface)")
            try socket.addAddress(address, prefixLength: prefix, ifindex: index, interface: interface)
        }
    }

    /// Removes an address. Idempotent (absent is fine).
    ///
    /// Removes the host address (/32, /128) in one request; only when there is none does it list the
    /// interface and remove the address with whatever prefix length it has (say a /24 added by hand).
    /// - Throws: ``IPVSError/Code/notFound`` when the interface does not exist.
    public func remove(_ address: IPAddress, from interface: String) throws(IPVSError) {
        try Self.validateInterfaceName(interface)
        let prefix = Self.hostPrefixLength(address)
        try withSocket { (socket: RouteSocket) throws(IPVSError) in
            let index = try socket.index(of: interface, for: "remove \(address) from \(interface)")
            if try socket.deleteAddress(address, prefixLength: prefix, ifindex: index, interface: interface) {
                return
            }
            for entry in try socket.addresses(ifindex: index, interface: interface) where entry.address == address {
                _ = try socket.deleteAddress(
                    address,
                    prefixLength: entry.prefixLength,
                    ifindex: index,
                    interface: interface
                )
            }
        }
    }

    /// The protocol number (`rtm_protocol`, `proto 168` in `ip route`) of the local routes this library adds:
    /// it tells them from the kernel's own (`proto kernel`, one per address) and from anyone else's.
    public static let routeProtocol: UInt8 = 168

    /// The single hosts (/32, /128) routed as local through `interface` by ``addLocalRoute(_:on:)``: the
    /// routes in the local table of type local with protocol ``routeProtocol``.
    /// - Throws: ``IPVSError/Code/notFound`` when the interface does not exist.
    public func localRoutes(on interface: String) throws(IPVSError) -> Set<IPAddress> {
        try Self.validateInterfaceName(interface)
        return try withSocket { (socket: RouteSocket) throws(IPVSError) -> Set<IPAddress> in
            let index = try socket.index(of: interface, for: "list the local routes of \(interface)")
            return Set(try socket.localRoutes(ifindex: index, protocolNumber: Self.routeProtocol, interface: interface))
        }
    }

    /// Routes `address` as local through `interface` (`ip route add local ADDRESS dev INTERFACE table local
    /// proto 168`), so the host accepts packets for it without the address being on any interface. Idempotent.
    ///
    /// See RouteSocket+LocalRoutes.swift for why a route and not an address: adding the n-th address to an
    /// interface costs the kernel O(n); adding a route does not.
    /// - Throws: ``IPVSError/Code/notFound`` when the interface does not exist.
    public func addLocalRoute(_ address: IPAddress, on interface: String) throws(IPVSError) {
        try Self.validateInterfaceName(interface)
        try withSocket { (socket: RouteSocket) throws(IPVSError) in
            let index = try socket.index(of: interface, for: "route \(address) as local on \(interface)")
            try socket.addLocalRoute(address, ifindex: index, protocolNumber: Self.routeProtocol, interface: interface)
        }
    }

    /// Routes each of `addresses` as local through `interface`, as ``addLocalRoute(_:on:)`` does, looking the
    /// interface up once and sending the requests in batches: a first sync binds every VIP of the cluster at
    /// once (10,000 at 10k Services).
    /// - Returns: the addresses that failed, each with its error, in order; the others are routed.
    /// - Throws: when the interface cannot be found (then none is routed), or the socket fails mid-way (then
    ///   the batch in flight may be routed or not: binding again is idempotent).
    public func addLocalRoutes(
        _ addresses: [IPAddress],
        on interface: String
    ) throws(IPVSError) -> [(address: IPAddress, error: IPVSError)] {
        try Self.validateInterfaceName(interface)
        return try withSocket { (socket: RouteSocket) throws(IPVSError) -> [(address: IPAddress, error: IPVSError)] in
            let index = try socket.index(of: interface, for: "route addresses as local on \(interface)")
            return try socket.addLocalRoutes(
                addresses,
                ifindex: index,
                protocolNumber: Self.routeProtocol,
                interface: interface
            )
        }
    }

    /// Deletes the local route ``addLocalRoute(_:on:)`` added. Returns false when there was none.
    /// - Throws: ``IPVSError/Code/notFound`` when the interface does not exist.
    @discardableResult
    public func removeLocalRoute(_ address: IPAddress, from interface: String) throws(IPVSError) -> Bool {
        try Self.validateInterfaceName(interface)
        return try withSocket { (socket: RouteSocket) throws(IPVSError) -> Bool in
            let index = try socket.index(of: interface, for: "delete the local route \(address) on \(interface)")
            return try socket.deleteLocalRoute(
                address,
                ifindex: index,
                protocolNumber: Self.routeProtocol,
                interface: interface
            )
        }
    }

    /// Deletes an interface of any type; one that does not exist is fine.
    public func deleteInterface(named name: String) throws(IPVSError) {
        try Self.validateInterfaceName(name)
        try withSocket { (socket: RouteSocket) throws(IPVSError) in try socket.deleteLink(named: name) }
    }

    /// Whether an interface named `name` exists in the namespace.
    public func interfaceExists(_ name: String) throws(IPVSError) -> Bool {
        try Self.validateInterfaceName(name)
        return try withSocket { (socket: RouteSocket) throws(IPVSError) -> Bool in
            try socket.link(named: name) != nil
        }
    }

    /// Reads a sysctl under /proc/sys (e.g. "net/ipv4/vs/conntrack") in this namespace, without the newline.
    /// - Throws: ``IPVSError/Code/invalidInput`` for a malformed name, ``IPVSError/Code/notFound`` when the
    ///   sysctl does not exist.
    public func sysctl(_ name: String) throws(IPVSError) -> String {
        try Sysctl.value(of: name, in: namespace)
    }

    /// Writes a sysctl under /proc/sys (e.g. "net/ipv4/vs/conntrack") in this namespace.
    /// - Throws: ``IPVSError/Code/invalidInput`` for a malformed name or value, ``IPVSError/Code/notFound``
    ///   when the sysctl does not exist, ``IPVSError/Code/invalidArgument`` when the kernel refuses the value.
    public func setSysctl(_ name: String, to value: String) throws(IPVSError) {
        try Sysctl.set(name, to: value, in: namespace)
    }

    /// The prefix length of a single host: 32 for IPv4, 128 for IPv6.
    static func hostPrefixLength(_ address: IPAddress) -> Int32 {
        address.family == .inet ? 32 : 128
    }

    /// Refuses what the kernel's `dev_valid_name` refuses, with a message saying why.
    static func validateInterfaceName(_ name: String) throws(IPVSError) {
        func invalid(_ why: String) -> IPVSError {
            IPVSError(.invalidInput, "invalid interface name '\(name)': \(why)")
        }
        let bytes = Array(name.utf8)
        guard !bytes.isEmpty else { throw invalid("it is empty") }
        // IFNAMSIZ is 16 including the terminating NUL.
        guard bytes.count <= 15 else { throw invalid("it is \(bytes.count) bytes long, the limit is 15") }
        guard name != ".", name != ".." else { throw invalid("'.' and '..' are not interface names") }
        if let bad = bytes.first(where: { $0 == UInt8(ascii: "/") || $0 == UInt8(ascii: ":") || $0 <= 0x20 }) {
            let shown = bad > 0x20 ? "'\(Character(Unicode.Scalar(bad)))'" : "a space or control character"
            throw invalid("it contains \(shown)")
        }
    }
}
