internal import CNetlink

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A NETLINK_ROUTE socket: with RouteSocket+LocalRoutes.swift, the only place that calls libnl-route.
///
/// Not Sendable: one `HostNetwork` owns it behind a mutex and frees it in `deinit`.
final class RouteSocket {
    let handle: OpaquePointer
    /// The receiving side of batched requests (``addLocalRoutes(_:ifindex:protocolNumber:interface:)``), set
    /// up at the first batch.
    var datagrams: NetlinkDatagrams?
    /// The sequence number of the next batched request: numbered apart from libnl's own, which start at the
    /// time of day in seconds (below 2^31 until 2038) and never see these replies.
    var nextSequence: UInt32 = 1 << 31

    init(namespace: NetworkNamespace) throws(IPVSError) {
        guard let handle = nl_socket_alloc() else {
            throw IPVSError(.connectionFailed, "cannot allocate a netlink socket (out of memory)")
        }
        // Connect before `self` is whole: a throwing init of a complete class instance would also run deinit.
        do throws(IPVSError) {
            try Self.connect(handle, namespace: namespace)
        } catch {
            nl_socket_free(handle)
            throw error
        }
        self.handle = handle
    }

    deinit { nl_socket_free(handle) }

    /// Test hook: replaces the socket's descriptor with /dev/null, as if the socket had broken underneath.
    func breakForTesting() {
        let null = open("/dev/null", O_RDWR)
        _ = dup2(null, nl_socket_get_fd(handle))
        close(null)
    }

    private static func connect(_ handle: OpaquePointer, namespace: NetworkNamespace) throws(IPVSError) {
        switch namespace {
        case .current:
            try RouteError.check(nl_connect(handle, NETLINK_ROUTE), "connect a route netlink socket")
        case .path(let path):
            let result = try NamespaceThread.run(inNamespaceAt: path, code: RouteError.code(ofErrno:)) {
                nl_connect(handle, NETLINK_ROUTE)
            }
            try RouteError.check(result, "connect a route netlink socket in \(path)")
        }
    }

    /// The link named `name`, or nil when there is none. The caller owns the result (`rtnl_link_put`).
    private func linkObject(named name: String) throws(IPVSError) -> OpaquePointer? {
        var link: OpaquePointer?
        let result = rtnl_link_get_kernel(handle, 0, name, &link)
        if result == -NLE_OBJ_NOTFOUND || result == -NLE_NODEV { return nil }
        try RouteError.check(result, "look up interface \(name)")
        return link
    }

    /// What the kernel says about the interface `name`, or nil when there is none.
    func link(named name: String) throws(IPVSError) -> LinkSummary? {
        guard let link = try linkObject(named: name) else { return nil }
        defer { rtnl_link_put(link) }
        return LinkSummary(
            index: rtnl_link_get_ifindex(link),
            type: rtnl_link_get_type(link).map { String(cString: $0) },
            isUp: rtnl_link_get_flags(link) & cnl_iff_up != 0
        )
    }

    /// The interface index of `name`.
    /// - Throws: ``IPVSError/Code/notFound`` when there is no such interface.
    func index(of name: String, for step: String) throws(IPVSError) -> Int32 {
        guard let link = try link(named: name) else {
            throw IPVSError(.notFound, "cannot \(step): interface \(name) does not exist", errno: ENODEV)
        }
        return link.index
    }

    /// Creates a link of `type`, up. Fails with `alreadyExists` if the name is taken.
    func createLink(named name: String, type: String) throws(IPVSError) {
        guard let link = rtnl_link_alloc() else { throw RouteError.outOfMemory("create interface \(name)") }
        defer { rtnl_link_put(link) }
        rtnl_link_set_name(link, name)
        try RouteError.check(rtnl_link_set_type(link, type), "create interface \(name) of type \(type)")
        rtnl_link_set_flags(link, cnl_iff_up)
        try RouteError.check(
            rtnl_link_add(handle, link, NLM_F_CREATE | NLM_F_EXCL),
            "create interface \(name) of type \(type)"
        )
    }

    /// Sets the link up.
    func setUp(named name: String) throws(IPVSError) {
        guard let link = try linkObject(named: name) else {
            throw IPVSError(.notFound, "cannot set interface \(name) up: it does not exist", errno: ENODEV)
        }
        defer { rtnl_link_put(link) }
        guard let change = rtnl_link_alloc() else { throw RouteError.outOfMemory("set interface \(name) up") }
        defer { rtnl_link_put(change) }
        rtnl_link_set_flags(change, cnl_iff_up)
        try RouteError.check(rtnl_link_change(handle, link, change, 0), "set interface \(name) up")
    }

    /// Deletes the link; one already gone is not an error.
    func deleteLink(named name: String) throws(IPVSError) {
        guard let link = try linkObject(named: name) else { return }
        defer { rtnl_link_put(link) }
        let result = rtnl_link_delete(handle, link)
        if result == -NLE_OBJ_NOTFOUND || result == -NLE_NODEV { return }
        try RouteError.check(result, "delete interface \(name)")
    }

    /// The cache `allocate` fills from a kernel dump; the caller frees it (`nl_cache_free`). A dump the kernel
    /// flags as interrupted (its table changed meanwhile) is simply read again, up to five times.
    func dump(
        _ step: @autoclosure () -> String,
        _ allocate: (inout OpaquePointer?) -> Int32
    ) throws(IPVSError) -> OpaquePointer {
        var cache: OpaquePointer?
        var result: Int32 = 0
        for _ in 0..<5 {
            result = allocate(&cache)
            if result != -NLE_DUMP_INTR { break }
        }
        try RouteError.check(result, step())
        guard let cache else { throw IPVSError(.kernel, "cannot \(step()): libnl returned no cache") }
        return cache
    }

    /// Every address on the interface with index `ifindex` (every interface when nil), with its prefix
    /// length and scope.
    func addresses(ifindex: Int32?, interface: String) throws(IPVSError) -> [AssignedAddress] {
        let cache = try dump("list the addresses of \(interface)") { rtnl_addr_alloc_cache(handle, &$0) }
        defer { nl_cache_free(cache) }
        var found: [AssignedAddress] = []
        var object = nl_cache_get_first(cache)
        while let address = object {
            object = nl_cache_get_next(address)
            guard ifindex == nil || rtnl_addr_get_ifindex(address) == ifindex, let local = rtnl_addr_get_local(address)
            else {
                continue
            }
            let length = Int(nl_addr_get_len(local))
            guard let binary = nl_addr_get_binary_addr(local), length == 4 || length == 16 else { continue }
            let bytes = UnsafeRawBufferPointer(start: binary, count: length)
            guard let ip = IPAddress(bytes: bytes) else { continue }
            found.append(
                AssignedAddress(
                    address: ip,
                    prefixLength: rtnl_addr_get_prefixlen(address),
                    scope: rtnl_addr_get_scope(address),
                    ifindex: rtnl_addr_get_ifindex(address)
                )
            )
        }
        return found
    }

    /// Adds `address/prefixLength` to the interface; an address already there is not an error.
    func addAddress(_ address: IPAddress, prefixLength: Int32, ifindex: Int32, interface: String) throws(IPVSError) {
        let step = "add \(address)/\(prefixLength) to \(interface)"
        let object = try Self.addressObject(address, prefixLength: prefixLength, ifindex: ifindex, step: step)
        defer { rtnl_addr_put(object) }
        // Without duplicate address detection an IPv6 VIP is usable at once instead of "tentative" for ~2 s.
        if address.family == .inet6 { rtnl_addr_set_flags(object, cnl_ifa_f_nodad) }
        let result = rtnl_addr_add(handle, object, 0)
        if result == -NLE_EXIST { return }
        try RouteError.check(result, step)
    }

    /// Deletes `address/prefixLength` from the interface; returns false when it was not there.
    func deleteAddress(
        _ address: IPAddress,
        prefixLength: Int32,
        ifindex: Int32,
        interface: String
    ) throws(IPVSError) -> Bool {
        let step = "remove \(address)/\(prefixLength) from \(interface)"
        let object = try Self.addressObject(address, prefixLength: prefixLength, ifindex: ifindex, step: step)
        defer { rtnl_addr_put(object) }
        let result = rtnl_addr_delete(handle, object, 0)
        if result == -NLE_NOADDR || result == -NLE_OBJ_NOTFOUND { return false }
        try RouteError.check(result, step)
        return true
    }

    private static func addressObject(
        _ address: IPAddress,
        prefixLength: Int32,
        ifindex: Int32,
        step: String
    ) throws(IPVSError) -> OpaquePointer {
        let family = Int32(address.family.rawValue)
        let local = try netlinkAddress(address, step: step)
        defer { nl_addr_put(local) }
        guard let object = rtnl_addr_alloc() else { throw RouteError.outOfMemory(step) }
        rtnl_addr_set_ifindex(object, ifindex)
        rtnl_addr_set_family(object, family)
        let result = rtnl_addr_set_local(object, local)
        if result < 0 {
            rtnl_addr_put(object)
            try RouteError.check(result, step)
        }
        // After the local address: setting it resets the prefix length to the address's full length.
        rtnl_addr_set_prefixlen(object, prefixLength)
        return object
    }

    /// `address` as libnl's `nl_addr` (a single host: its prefix length is the address's bit length). The
    /// caller owns it (`nl_addr_put`).
    static func netlinkAddress(_ address: IPAddress, step: String) throws(IPVSError) -> OpaquePointer {
        let bytes = address.bytes
        let family = Int32(address.family.rawValue)
        guard let built = bytes.withUnsafeBytes({ nl_addr_build(family, $0.baseAddress, $0.count) }) else {
            throw RouteError.outOfMemory(step)
        }
        return built
    }
}

/// An interface as the kernel lists it.
struct LinkSummary: Hashable {
    var index: Int32
    /// The link kind (`IFLA_INFO_KIND`, such as "dummy" or "veth"); nil for devices without one, like loopback.
    var type: String?
    var isUp: Bool
}

/// An address as the kernel lists it on an interface.
struct AssignedAddress: Hashable {
    var address: IPAddress
    var prefixLength: Int32
    var scope: Int32
    var ifindex: Int32 = 0

    /// IPv6 link-local addresses (fe80::/10, scope link) are the kernel's own, not the agent's.
    var isIPv6LinkLocal: Bool {
        guard address.family == .inet6 else { return false }
        let bytes = address.bytes
        return scope == Int32(cnl_rt_scope_link) || (bytes[0] == 0xfe && bytes[1] & 0xc0 == 0x80)
    }
}
