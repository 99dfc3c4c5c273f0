internal import CNetlink

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Host routes of type local in the kernel's local table: how the agent makes the host accept a virtual IP.
///
/// Why routes and not addresses: the kernel keeps an interface's IPv4 and IPv6 addresses in a list that
/// every address add walks (`__inet_insert_ifa`, `ipv6_link_dev_addr`), so binding n addresses to one
/// interface costs O(n²). Measured natively (`ip -batch`, one veth): 10,000 IPv4 addresses in 2.6 s,
/// 50,000 in 175 s; the same 50,000 as local routes in 0.8 s. The host accepts a packet because the
/// local table routes its destination as local, which is all an address would have added (its kernel
/// route, `proto kernel`, is that same route). Our routes carry ``HostNetwork/routeProtocol`` so they
/// are told apart from the kernel's and anyone else's; deleting an address deletes only its own route
/// (but an interface's last IPv4 address takes every route through it along: DummyInterfaceBinder uses lo).
extension RouteSocket {
    /// The destinations of the local routes in the local table through interface `ifindex` whose protocol
    /// is `protocolNumber`, from a dump the kernel filters (cnl_dump_local_routes in the shim), so a host with
    /// a million other routes costs what it costs without them. When the kernel refuses the filtered request,
    /// the same dump goes unfiltered and each route is checked here.
    func localRoutes(ifindex: Int32, protocolNumber: UInt8, interface: String) throws(IPVSError) -> [IPAddress] {
        try localRouteDump(ifindex: ifindex, protocolNumber: protocolNumber, interface: interface).routes
    }

    /// ``localRoutes(ifindex:protocolNumber:interface:)`` with how many route messages the dumps read (tests
    /// check the kernel's filter with it).
    func localRouteDump(
        ifindex: Int32,
        protocolNumber: UInt8,
        interface: String
    ) throws(IPVSError) -> (routes: [IPAddress], messagesRead: Int) {
        let step = "list the local routes of \(interface)"
        var found: [IPAddress] = []
        var messagesRead = 0
        for family in [AF_INET, AF_INET6] {
            var result: Int32 = 0
            for strict in [true, false] {
                for _ in 0..<5 {
                    var routes: [IPAddress] = []
                    result = withUnsafeMutablePointer(to: &routes) { pointer in
                        var query = cnl_local_routes(
                            family: UInt8(family),
                            protocol: protocolNumber,
                            ifindex: ifindex,
                            strict: strict ? 1 : 0,
                            found: { arg, address, length in
                                guard let arg, let address,
                                    let ip = IPAddress(
                                        bytes: UnsafeRawBufferPointer(start: address, count: Int(length))
                                    )
                                else { return }
                                arg.assumingMemoryBound(to: [IPAddress].self).pointee.append(ip)
                            },
                            arg: UnsafeMutableRawPointer(pointer),
                            seen: 0
                        )
                        let result = cnl_dump_local_routes(handle, &query)
                        messagesRead += Int(query.seen)
                        return result
                    }
                    if result == 0 { found += routes }
                    if result != -NLE_DUMP_INTR { break }
                }
                if result == 0 || result == -NLE_DUMP_INTR { break }
            }
            try RouteError.check(result, step)
        }
        return (found, messagesRead)
    }

    /// Adds the local route `address` (a single host) through interface `ifindex`; one already there is not
    /// an error.
    func addLocalRoute(
        _ address: IPAddress,
        ifindex: Int32,
        protocolNumber: UInt8,
        interface: String
    ) throws(IPVSError) {
        let step = "add the local route \(address) on \(interface)"
        let route = try Self.localRoute(address, ifindex: ifindex, protocolNumber: protocolNumber, step: step)
        defer { rtnl_route_put(route) }
        let result = rtnl_route_add(handle, route, 0)
        if result == -NLE_EXIST { return }
        try RouteError.check(result, step)
    }

    /// Deletes the local route `address` through interface `ifindex` with protocol `protocolNumber`; returns
    /// false when there was none.
    func deleteLocalRoute(
        _ address: IPAddress,
        ifindex: Int32,
        protocolNumber: UInt8,
        interface: String
    ) throws(IPVSError) -> Bool {
        let step = "delete the local route \(address) on \(interface)"
        let route = try Self.localRoute(address, ifindex: ifindex, protocolNumber: protocolNumber, step: step)
        defer { rtnl_route_put(route) }
        let result = rtnl_route_delete(handle, route, 0)
        if result == -NLE_OBJ_NOTFOUND || result == -NLE_NOADDR { return false }
        try RouteError.check(result, step)
        return true
    }

    /// `local ADDRESS/32 dev IFINDEX table local scope host proto PROTOCOL` (and `src ADDRESS` for IPv4, as
    /// the kernel's own route for an address has it, so the host still answers from the virtual IP).
    private static func localRoute(
        _ address: IPAddress,
        ifindex: Int32,
        protocolNumber: UInt8,
        step: String
    ) throws(IPVSError) -> OpaquePointer {
        let family = Int32(address.family.rawValue)
        let destination = try netlinkAddress(address, step: step)
        defer { nl_addr_put(destination) }
        guard let route = rtnl_route_alloc() else { throw RouteError.outOfMemory(step) }
        guard let hop = rtnl_route_nh_alloc() else {
            rtnl_route_put(route)
            throw RouteError.outOfMemory(step)
        }
        rtnl_route_nh_set_ifindex(hop, ifindex)
        // The route owns the hop from here on and frees it with itself.
        rtnl_route_add_nexthop(route, hop)
        rtnl_route_set_table(route, cnl_rt_table_local)
        rtnl_route_set_scope(route, cnl_rt_scope_host)
        rtnl_route_set_protocol(route, protocolNumber)
        var result = rtnl_route_set_family(route, UInt8(family))
        if result >= 0 { result = rtnl_route_set_type(route, cnl_rtn_local) }
        if result >= 0 { result = rtnl_route_set_dst(route, destination) }
        // IPv6 accepts a preferred source only when it is an address on the host, which a VIP no longer is.
        if result >= 0, address.family == .inet { result = rtnl_route_set_pref_src(route, destination) }
        if result < 0 {
            rtnl_route_put(route)
            try RouteError.check(result, step)
        }
        return route
    }
}
