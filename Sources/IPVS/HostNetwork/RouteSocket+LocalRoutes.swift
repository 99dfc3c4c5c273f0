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

    /// Adds the local routes `addresses` through interface `ifindex`, as ``addLocalRoute(_:ifindex:protocolNumber:interface:)``
    /// does each, in batches: one `sendmsg` carries as many requests as the receive buffer has room for
    /// acknowledgements (some 500), where libnl's `rtnl_route_add` waits out one round trip per route, which
    /// was most of a 10k-Service first sync's address binding in the VM. The requests are what libnl sends
    /// (`RTM_NEWROUTE` with `NLM_F_CREATE`, `rtmsg` and `RTA_TABLE`, `RTA_DST`, `RTA_PREFSRC` for IPv4,
    /// `RTA_OIF`), and one already there (`EEXIST`) is not an error.
    /// - Returns: the addresses the kernel refused, each with its error, in order.
    /// - Throws: when the socket fails (the outcome of the batch in flight is then unknown).
    func addLocalRoutes(
        _ addresses: [IPAddress],
        ifindex: Int32,
        protocolNumber: UInt8,
        interface: String
    ) throws(IPVSError) -> [(address: IPAddress, error: IPVSError)] {
        if datagrams == nil {
            datagrams = NetlinkDatagrams(descriptor: nl_socket_get_fd(handle), bufferSize: Self.batchBufferBytes)
        }
        let perBatch = min(datagrams!.maximumBatchMessages, datagrams!.maximumBatchBytes / Self.localRouteRequestBytes)
        var failures: [(address: IPAddress, error: IPVSError)] = []
        var start = 0
        while start < addresses.count {
            let batch = addresses[start..<min(addresses.count, start + perBatch)]
            let first = nextSequence
            nextSequence &+= UInt32(batch.count)
            var writer = NetlinkWriter(reservingCapacity: Self.localRouteRequestBytes * batch.count)
            for (offset, address) in batch.enumerated() {
                Self.encodeLocalRoute(
                    address,
                    ifindex: ifindex,
                    protocolNumber: protocolNumber,
                    sequence: first &+ UInt32(offset),
                    into: &writer
                )
            }
            let sent = writer.bytes.withUnsafeBytes { raw in
                nl_sendto(handle, UnsafeMutableRawPointer(mutating: raw.baseAddress), raw.count)
            }
            try RouteError.check(sent, "add \(batch.count) local routes on \(interface)")
            try datagrams!.acknowledgements(of: batch.count, from: first, timeoutMilliseconds: Self.replyTimeout) {
                offset,
                errno in
                guard errno != EEXIST else { return }
                let address = batch[batch.startIndex + offset]
                failures.append(
                    (address, RouteError.system("add the local route \(address) on \(interface)", errno: errno))
                )
            }
            start += batch.count
        }
        return failures
    }

    /// The largest request ``encodeLocalRoute(_:ifindex:protocolNumber:sequence:into:)`` writes (IPv6: header
    /// 16, `rtmsg` 12, table 8, destination 20, interface 8; IPv4 has a preferred source and is 60).
    static let localRouteRequestBytes = 64
    /// The socket buffers batched requests ask for: about 500 acknowledgements per batch.
    static let batchBufferBytes = 1 << 20
    /// How long a batch's acknowledgements may take; the kernel answers a batch of local routes in
    /// milliseconds, so this is only for a socket that broke.
    static let replyTimeout: Int32 = 30_000

    /// `RTM_NEWROUTE` for the local route `address`, as libnl's `rtnl_route_add` builds it from
    /// ``localRoute(_:ifindex:protocolNumber:step:)``.
    static func encodeLocalRoute(
        _ address: IPAddress,
        ifindex: Int32,
        protocolNumber: UInt8,
        sequence: UInt32,
        into writer: inout NetlinkWriter
    ) {
        let flags = UInt16(NLM_F_REQUEST) | UInt16(NLM_F_ACK) | cnl_nlm_f_create
        writer.beginMessage(type: cnl_rtm_newroute, flags: flags, sequence: sequence)
        // struct rtmsg: family, dst_len, src_len, tos, table, protocol, scope, type, flags.
        writer.appendField(UInt8(address.family.rawValue))
        writer.appendField(UInt8(address.family.addressLength * 8))
        writer.appendField(UInt8(0))
        writer.appendField(UInt8(0))
        writer.appendField(UInt8(cnl_rt_table_local))
        writer.appendField(protocolNumber)
        writer.appendField(cnl_rt_scope_host)
        writer.appendField(cnl_rtn_local)
        writer.appendField(UInt32(0))
        writer.put(cnl_rta_table, UInt32(cnl_rt_table_local))
        writer.put(cnl_rta_dst, bytes: address.bytes)
        // IPv6 accepts a preferred source only when it is an address on the host, which a VIP no longer is.
        if address.family == .inet { writer.put(cnl_rta_prefsrc, bytes: address.bytes) }
        writer.put(cnl_rta_oif, UInt32(bitPattern: ifindex))
        writer.endMessage()
    }

    /// The request libnl's `rtnl_route_add` would send for the same route, before libnl's send adds
    /// `NLM_F_REQUEST`, `NLM_F_ACK` and the sequence number: what ``encodeLocalRoute(_:ifindex:protocolNumber:sequence:into:)``
    /// is checked against.
    static func libnlLocalRouteRequest(
        _ address: IPAddress,
        ifindex: Int32,
        protocolNumber: UInt8
    ) throws(IPVSError) -> [UInt8] {
        let step = "build the local route \(address)"
        let route = try localRoute(address, ifindex: ifindex, protocolNumber: protocolNumber, step: step)
        defer { rtnl_route_put(route) }
        var message: OpaquePointer?
        try RouteError.check(rtnl_route_build_add_request(route, Int32(cnl_nlm_f_create), &message), step)
        guard let message else { throw RouteError.outOfMemory(step) }
        defer { nlmsg_free(message) }
        let header = nlmsg_hdr(message)!
        return Array(UnsafeRawBufferPointer(start: header, count: Int(header.pointee.nlmsg_len)))
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
