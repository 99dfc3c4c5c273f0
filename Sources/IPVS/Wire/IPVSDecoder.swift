/// Turns the kernel's IPVS replies into model values. Every missing or short attribute is an error
/// that names it; nothing is guessed.
enum IPVSDecoder {
    static func service(_ top: NetlinkAttributes) throws(IPVSError) -> ObservedVirtualServer {
        guard let attrs = try top.nested(IPVSWire.Top.service, "service") else {
            throw malformed("service reply without a service attribute")
        }
        return try serviceEntry(attrs)
    }

    /// Only the identity of a service reply: cheaper than decoding the whole entry.
    static func serviceID(_ top: NetlinkAttributes) throws(IPVSError) -> VirtualServer.ID {
        guard let attrs = try top.nested(IPVSWire.Top.service, "service") else {
            throw malformed("service reply without a service attribute")
        }
        return try serviceID(
            attrs,
            family: AddressFamily(rawValue: try attrs.required(IPVSWire.Service.af, "address family"))
        )
    }

    static func serviceEntry(_ attrs: NetlinkAttributes) throws(IPVSError) -> ObservedVirtualServer {
        let family = AddressFamily(rawValue: try attrs.required(IPVSWire.Service.af, "address family"))
        let id = try serviceID(attrs, family: family)
        let flagsBytes = attrs.raw(IPVSWire.Service.flags)
        guard let flagsBytes, flagsBytes.count >= 4 else { throw malformed("\(attrs.context): flags are missing") }
        let flags = ServiceFlags(rawValue: try readInteger(UInt32.self, flagsBytes, at: flagsBytes.startIndex))
        let netmask: UInt32 = try attrs.required(IPVSWire.Service.netmask, "netmask")
        guard let scheduler = attrs.string(IPVSWire.Service.schedName) else {
            throw malformed("\(attrs.context): scheduler name is missing")
        }
        let vs = VirtualServer(
            id: id,
            scheduler: Scheduler(rawValue: scheduler),
            flags: flags.subtracting(.hashed),
            timeout: try attrs.required(IPVSWire.Service.timeout, "timeout"),
            netmask: family == .inet ? UInt32(bigEndian: netmask) : netmask,
            persistenceEngine: attrs.string(IPVSWire.Service.peName)
        )
        let stats = try statistics(attrs, stats64: IPVSWire.Service.stats64, stats32: IPVSWire.Service.stats)
        return ObservedVirtualServer(virtualServer: vs, statistics: stats)
    }

    static func serviceID(_ attrs: NetlinkAttributes, family: AddressFamily) throws(IPVSError) -> VirtualServer.ID {
        if let mark: UInt32 = try attrs.integer(IPVSWire.Service.fwmark), mark != 0 {
            return .firewallMark(mark, family)
        }
        let proto: UInt16 = try attrs.required(IPVSWire.Service.proto, "protocol")
        let port: UInt16 = try attrs.required(IPVSWire.Service.port, "port")
        return .service(
            IPProtocol(rawValue: proto),
            try address(attrs, IPVSWire.Service.addr, family: family),
            port: UInt16(bigEndian: port)
        )
    }

    static func server(_ top: NetlinkAttributes, serviceFamily: AddressFamily) throws(IPVSError) -> ObservedRealServer {
        guard let attrs = try top.nested(IPVSWire.Top.dest, "destination") else {
            throw malformed("destination reply without a destination attribute")
        }
        let family =
            try attrs.integer(IPVSWire.Dest.addrFamily, as: UInt16.self).map(AddressFamily.init) ?? serviceFamily
        let port: UInt16 = try attrs.required(IPVSWire.Dest.port, "port")
        let method: UInt32 = try attrs.required(IPVSWire.Dest.fwdMethod, "forwarding method")
        let rs = RealServer(
            address: try address(attrs, IPVSWire.Dest.addr, family: family),
            port: UInt16(bigEndian: port),
            forwarding: ForwardingMethod(rawValue: method & ForwardingMethod.mask),
            weight: try attrs.required(IPVSWire.Dest.weight, "weight"),
            upperThreshold: try attrs.required(IPVSWire.Dest.upperThreshold, "upper threshold"),
            lowerThreshold: try attrs.required(IPVSWire.Dest.lowerThreshold, "lower threshold"),
            tunnelType: TunnelType(rawValue: try attrs.integer(IPVSWire.Dest.tunType) ?? 0),
            tunnelPort: UInt16(bigEndian: try attrs.integer(IPVSWire.Dest.tunPort) ?? 0),
            tunnelFlags: TunnelFlags(rawValue: try attrs.integer(IPVSWire.Dest.tunFlags) ?? 0)
        )
        return ObservedRealServer(
            realServer: rs,
            activeConnections: try attrs.required(IPVSWire.Dest.activeConns, "active connections"),
            inactiveConnections: try attrs.required(IPVSWire.Dest.inactiveConns, "inactive connections"),
            persistentConnections: try attrs.integer(IPVSWire.Dest.persistConns) ?? 0,
            statistics: try statistics(attrs, stats64: IPVSWire.Dest.stats64, stats32: IPVSWire.Dest.stats)
        )
    }

    static func address(
        _ attrs: NetlinkAttributes,
        _ type: UInt16,
        family: AddressFamily
    ) throws(IPVSError) -> IPAddress {
        guard let raw = attrs.raw(type), raw.count >= family.addressLength,
            family == .inet || family == .inet6,
            let address = IPAddress(bytes: raw.prefix(family.addressLength))
        else { throw malformed("\(attrs.context): address missing or not \(family)") }
        return address
    }

    /// Reads `STATS64` where the kernel has it (Linux 4.1+), else the 32-bit `STATS`.
    static func statistics(_ attrs: NetlinkAttributes, stats64: UInt16, stats32: UInt16) throws(IPVSError) -> Statistics
    {
        var nested = try attrs.nested(stats64, "stats64")
        if nested == nil { nested = try attrs.nested(stats32, "stats") }
        guard let s = nested else { return Statistics() }
        var result = Statistics()
        result.connections = try s.counter(IPVSWire.Stats.conns)
        result.incomingPackets = try s.counter(IPVSWire.Stats.inPackets)
        result.outgoingPackets = try s.counter(IPVSWire.Stats.outPackets)
        result.incomingBytes = try s.counter(IPVSWire.Stats.inBytes)
        result.outgoingBytes = try s.counter(IPVSWire.Stats.outBytes)
        result.connectionRate = try s.counter(IPVSWire.Stats.cps)
        result.incomingPacketRate = try s.counter(IPVSWire.Stats.inPPS)
        result.outgoingPacketRate = try s.counter(IPVSWire.Stats.outPPS)
        result.incomingByteRate = try s.counter(IPVSWire.Stats.inBPS)
        result.outgoingByteRate = try s.counter(IPVSWire.Stats.outBPS)
        return result
    }

    static func timeouts(_ top: NetlinkAttributes) throws(IPVSError) -> Timeouts {
        Timeouts(
            tcp: try top.required(IPVSWire.Top.timeoutTCP, "tcp timeout"),
            tcpFin: try top.required(IPVSWire.Top.timeoutTCPFin, "tcpfin timeout"),
            udp: try top.required(IPVSWire.Top.timeoutUDP, "udp timeout")
        )
    }

    static func info(_ top: NetlinkAttributes) throws(IPVSError) -> IPVSInfo {
        IPVSInfo(
            versionCode: try top.required(IPVSWire.Info.version, "version"),
            connectionTableSize: try top.required(IPVSWire.Info.connectionTableSize, "connection table size")
        )
    }

    static func daemon(_ top: NetlinkAttributes) throws(IPVSError) -> SyncDaemon {
        guard let attrs = try top.nested(IPVSWire.Top.daemon, "daemon") else {
            throw malformed("daemon reply without a daemon attribute")
        }
        guard let interface = attrs.string(IPVSWire.Daemon.interface) else {
            throw malformed("\(attrs.context): interface is missing")
        }
        var group: IPAddress?
        if let raw = attrs.raw(IPVSWire.Daemon.group6), raw.count >= 16 {
            group = IPAddress(bytes: raw.prefix(16))
        } else if let raw = attrs.raw(IPVSWire.Daemon.group), raw.count >= 4 {
            group = IPAddress(bytes: raw.prefix(4))
        }
        return SyncDaemon(
            state: SyncDaemon.State(rawValue: try attrs.required(IPVSWire.Daemon.state, "state")),
            interface: interface,
            syncID: try attrs.required(IPVSWire.Daemon.syncID, "sync id"),
            maximumLength: try attrs.integer(IPVSWire.Daemon.syncMaxLength),
            multicastGroup: group,
            multicastPort: try attrs.integer(IPVSWire.Daemon.port),
            multicastTTL: try attrs.integer(IPVSWire.Daemon.ttl)
        )
    }
}
