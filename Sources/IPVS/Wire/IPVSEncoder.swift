/// Turns IPVS operations and queries into netlink messages. Validates what the kernel would reject
/// without a useful errno, so the caller gets a message naming the field.
struct IPVSEncoder {
    /// The generic-netlink family id of IPVS, resolved at connect time.
    var familyID: UInt16

    /// Appends the request for `operation` to `writer`, asking for an acknowledgement.
    func encode(_ operation: IPVSOperation, sequence: UInt32, into writer: inout NetlinkWriter) throws(IPVSError) {
        try Self.validate(operation)
        let flags = IPVSWire.request | IPVSWire.ack
        switch operation {
        case .addService(let vs), .updateService(let vs):
            let command =
                if case .addService = operation { IPVSWire.Command.newService } else {
                    IPVSWire.Command.setService
                }
            message(command, flags: flags, sequence: sequence, into: &writer) { w in
                w.nest(IPVSWire.Top.service) { Self.putService(vs, into: &$0) }
            }
        case .deleteService(let id):
            message(IPVSWire.Command.delService, flags: flags, sequence: sequence, into: &writer) { w in
                w.nest(IPVSWire.Top.service) { Self.putServiceID(id, into: &$0) }
            }
        case .addServer(let rs, let id), .updateServer(let rs, let id):
            let command =
                if case .addServer = operation { IPVSWire.Command.newDest } else {
                    IPVSWire.Command.setDest
                }
            message(command, flags: flags, sequence: sequence, into: &writer) { w in
                w.nest(IPVSWire.Top.service) { Self.putServiceID(id, into: &$0) }
                w.nest(IPVSWire.Top.dest) { Self.putServer(rs, into: &$0) }
            }
        case .deleteServer(let rs, let id):
            message(IPVSWire.Command.delDest, flags: flags, sequence: sequence, into: &writer) { w in
                w.nest(IPVSWire.Top.service) { Self.putServiceID(id, into: &$0) }
                w.nest(IPVSWire.Top.dest) { Self.putServerID(rs, into: &$0) }
            }
        case .zero(let id):
            message(IPVSWire.Command.zero, flags: flags, sequence: sequence, into: &writer) { w in
                if let id { w.nest(IPVSWire.Top.service) { Self.putServiceID(id, into: &$0) } }
            }
        case .flush:
            message(IPVSWire.Command.flush, flags: flags, sequence: sequence, into: &writer) { _ in }
        case .setTimeouts(let timeouts):
            message(IPVSWire.Command.setConfig, flags: flags, sequence: sequence, into: &writer) { w in
                w.put(IPVSWire.Top.timeoutTCP, timeouts.tcp)
                w.put(IPVSWire.Top.timeoutTCPFin, timeouts.tcpFin)
                w.put(IPVSWire.Top.timeoutUDP, timeouts.udp)
            }
        case .startDaemon(let daemon):
            message(IPVSWire.Command.newDaemon, flags: flags, sequence: sequence, into: &writer) { w in
                w.nest(IPVSWire.Top.daemon) { Self.putDaemon(daemon, into: &$0) }
            }
        case .stopDaemon(let state):
            message(IPVSWire.Command.delDaemon, flags: flags, sequence: sequence, into: &writer) { w in
                w.nest(IPVSWire.Top.daemon) { $0.put(IPVSWire.Daemon.state, state.rawValue) }
            }
        }
    }

    /// A query: a dump (`NLM_F_DUMP`) or a single get, with optional attributes.
    func query(
        _ command: UInt8,
        dump: Bool,
        sequence: UInt32,
        into writer: inout NetlinkWriter,
        attributes: (inout NetlinkWriter) -> Void = { _ in }
    ) {
        let flags = IPVSWire.request | (dump ? IPVSWire.dump : 0)
        message(command, flags: flags, sequence: sequence, into: &writer, attributes)
    }

    private func message(
        _ command: UInt8,
        flags: UInt16,
        sequence: UInt32,
        into writer: inout NetlinkWriter,
        _ body: (inout NetlinkWriter) -> Void
    ) {
        writer.beginMessage(
            type: familyID,
            flags: flags,
            sequence: sequence,
            command: command,
            version: IPVSWire.version
        )
        body(&writer)
        writer.endMessage()
    }

    // MARK: Attributes

    static func putServiceID(_ id: VirtualServer.ID, into w: inout NetlinkWriter) {
        w.put(IPVSWire.Service.af, id.family.rawValue)
        switch id {
        case .service(let proto, let address, let port):
            w.put(IPVSWire.Service.proto, proto.rawValue)
            w.put(IPVSWire.Service.addr, inetAddress: address)
            w.put(IPVSWire.Service.port, bigEndian: port)
        case .firewallMark(let mark, _):
            w.put(IPVSWire.Service.fwmark, mark)
        }
    }

    static func putService(_ vs: VirtualServer, into w: inout NetlinkWriter) {
        putServiceID(vs.id, into: &w)
        w.put(IPVSWire.Service.schedName, string: vs.scheduler.rawValue)
        if let engine = vs.persistenceEngine { w.put(IPVSWire.Service.peName, string: engine) }
        // struct ip_vs_flags { flags; mask }: a full mask makes the kernel take our flags as they are.
        w.put(IPVSWire.Service.flags, vs.flags.rawValue, ~UInt32(0))
        w.put(IPVSWire.Service.timeout, vs.timeout)
        w.put(IPVSWire.Service.netmask, wireNetmask(vs.netmask, family: vs.id.family))
    }

    /// IPv4 netmasks travel as `__be32`; IPv6 prefix lengths as plain numbers.
    static func wireNetmask(_ netmask: UInt32, family: AddressFamily) -> UInt32 {
        family == .inet ? netmask.bigEndian : netmask
    }

    static func putServerID(_ id: RealServer.ID, into w: inout NetlinkWriter) {
        // Always name the family: without it the kernel assumes the service's (moby/ipvs's IPv6 bug).
        w.put(IPVSWire.Dest.addrFamily, id.address.family.rawValue)
        w.put(IPVSWire.Dest.addr, inetAddress: id.address)
        w.put(IPVSWire.Dest.port, bigEndian: id.port)
    }

    static func putServer(_ rs: RealServer, into w: inout NetlinkWriter) {
        putServerID(rs.id, into: &w)
        w.put(IPVSWire.Dest.fwdMethod, rs.forwarding.rawValue)
        w.put(IPVSWire.Dest.weight, rs.weight)
        // Tunnel attributes exist since Linux 5.2/5.3; omit them when they are the kernel's defaults.
        if rs.forwarding == .tunnel || rs.tunnelType != .ipip || rs.tunnelPort != 0 || !rs.tunnelFlags.isEmpty {
            w.put(IPVSWire.Dest.tunType, rs.tunnelType.rawValue)
            w.put(IPVSWire.Dest.tunPort, bigEndian: rs.tunnelPort)
            w.put(IPVSWire.Dest.tunFlags, rs.tunnelFlags.rawValue)
        }
        w.put(IPVSWire.Dest.upperThreshold, rs.upperThreshold)
        w.put(IPVSWire.Dest.lowerThreshold, rs.lowerThreshold)
    }

    static func putDaemon(_ daemon: SyncDaemon, into w: inout NetlinkWriter) {
        w.put(IPVSWire.Daemon.state, daemon.state.rawValue)
        w.put(IPVSWire.Daemon.interface, string: daemon.interface)
        w.put(IPVSWire.Daemon.syncID, daemon.syncID)
        if let length = daemon.maximumLength { w.put(IPVSWire.Daemon.syncMaxLength, length) }
        if let port = daemon.multicastPort { w.put(IPVSWire.Daemon.port, port) }
        if let ttl = daemon.multicastTTL { w.put(IPVSWire.Daemon.ttl, ttl) }
        if let group = daemon.multicastGroup {
            w.put(group.family == .inet ? IPVSWire.Daemon.group : IPVSWire.Daemon.group6, bytes: group.bytes)
        }
    }

    // MARK: Validation

    static func validate(_ operation: IPVSOperation) throws(IPVSError) {
        func refuse(_ message: String) -> IPVSError {
            IPVSError(.invalidInput, "\(operation): \(message)", operation: operation)
        }
        switch operation {
        case .addService(let vs), .updateService(let vs):
            let name = vs.scheduler.rawValue
            guard !name.isEmpty, name.utf8.count <= Scheduler.maximumNameLength, !name.utf8.contains(0) else {
                throw refuse("scheduler name '\(name)' must be 1 to \(Scheduler.maximumNameLength) bytes")
            }
            if let engine = vs.persistenceEngine, engine.isEmpty || engine.utf8.count > 15 || engine.utf8.contains(0) {
                throw refuse("persistence engine name '\(engine)' must be 1 to 15 bytes")
            }
            if vs.id.family == .inet6, !(1...128).contains(vs.netmask) {
                throw refuse("IPv6 persistence prefix length \(vs.netmask) is not in 1...128")
            }
            if !vs.flags.isSubset(of: .settable) {
                throw refuse("flags 0x\(String(vs.flags.rawValue, radix: 16)) include bits the kernel owns")
            }
        case .addServer(let rs, let id), .updateServer(let rs, let id):
            guard RealServer.weights.contains(rs.weight) else {
                throw refuse("weight \(rs.weight) is not in \(RealServer.weights)")
            }
            if rs.address.family != id.family, rs.forwarding != .tunnel {
                throw refuse(
                    "real server is \(rs.address.family) but the service is \(id.family);"
                        + " mixed families need tunnel forwarding"
                )
            }
        case .startDaemon(let daemon):
            let name = daemon.interface
            guard !name.isEmpty, name.utf8.count <= 15, !name.utf8.contains(0) else {
                throw refuse("interface name '\(name)' must be 1 to 15 bytes")
            }
        default:
            break
        }
    }
}
