import IPVS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// Parses ipvsadm argument vectors into ``AdminCommand``s, with ipvsadm's defaults, checks and messages.
public struct IpvsadmParser: Sendable {
    /// The name in "Try `NAME -h'" messages (ipvsadm uses its argv[0]).
    public var programName: String
    public var resolver: any NameResolver

    public init(programName: String = "ipvsctl", resolver: any NameResolver = SystemResolver()) {
        self.programName = programName
        self.resolver = resolver
    }

    /// ipvsadm's `IPVS_SVC_PERSISTENT_TIMEOUT`: `-p` without a value.
    public static let defaultPersistence: UInt32 = 360
    static let maximumTimeout = 86400 * 31

    /// Parses the arguments after the program name.
    /// - Throws: ``AdminError`` with ipvsadm's message and exit status.
    public func parse(_ arguments: [String]) throws(AdminError) -> AdminCommand {
        var state = ParseState(parser: self)
        return try state.run(arguments)
    }

    var tryHelp: AdminError {
        AdminError("Try `\(programName) -h' or '\(programName) --help' for more information.", status: 255)
    }
}

// The columns of ipvsadm's `commands_v_options` table, in its order (`OPTC_*`).
enum OptionColumn: Int, CaseIterable {
    case numeric, connection, service, scheduler, persistent, netmask, server, forward, weight, upperThreshold
    case lowerThreshold, mcast, timeout, daemon, stats, rate, thresholds, persistentConn, noSort, syncID, exact
    case onePacket, persistenceEngine, schedFlags, mcastGroup, mcastPort, mcastTTL, syncMaxLength, tunnelInfo
    case tunnelType, tunnelPort, tunnelNoChecksum, tunnelChecksum, tunnelRemoteChecksum

    var name: String {
        [
            "numeric", "connection", "service-address", "scheduler", "persistent", "netmask", "real-server",
            "forwarding-method", "weight", "u-threshold", "l-threshold", "mcast-interface", "timeout", "daemon",
            "stats", "rate", "thresholds", "persistent-conn", "nosort", "syncid", "exact", "ops", "pe",
            "sched-flags", "mcast-group", "mcast-port", "mcast-ttl", "sync-maxlen", "tun-info", "tun-type",
            "tun-port", "tun-nocsum", "tun-csum", "tun-remcsum",
        ][rawValue]
    }
}

enum CommandKind: Int {
    case add, edit, delete, flush, list, addServer, deleteServer, editServer, timeout, startDaemon, stopDaemon
    case restore, save, zero

    var name: String {
        [
            "add-service", "edit-service", "delete-service", "flush", "list", "add-server", "delete-server",
            "edit-server", "set", "start-daemon", "stop-daemon", "restore", "save", "zero",
        ][rawValue]
    }

    /// Which options each command takes: '+' required, 'x' illegal, '1' at most one of them, ' ' optional.
    var legality: [UInt8] { Self.legalityRows[rawValue] }

    private static let legalityRows: [[UInt8]] = [
        "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx",
        "xx+   xxxxxxxxxxxxxxx   xxxxxxxxxx",
        "xx+xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        " 11xxxxxxxxx11       xxxxxxx xxxxx",
        "xx+xxx+    xxxxxxxxxxxxxxxxxx     ",
        "xx+xxx+xxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "xx+xxx+    xxxxxxxxxxxxxxxxxx     ",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "xxxxxxxxxxx xxxxxxx xxxx    xxxxxx",
        "xxxxxxxxxxxxxxxxxxx xxxxxxxxxxxxxx",
        "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        " xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
        "xx xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    ].map { Array($0.utf8) }
}

/// A set of ``OptionColumn``s, one bit each, like ipvsadm's `options` word.
struct OptionColumns: ExpressibleByArrayLiteral {
    private var bits: UInt64 = 0

    init(arrayLiteral columns: OptionColumn...) {
        for column in columns { insert(column) }
    }

    func contains(_ column: OptionColumn) -> Bool { bits & 1 << column.rawValue != 0 }
    mutating func insert(_ column: OptionColumn) { bits |= 1 << column.rawValue }
    func isDisjoint(with other: OptionColumns) -> Bool { bits & other.bits == 0 }
}

/// ipvsadm's `struct ipvs_command_entry` while the options are read, with its C defaults.
private struct ParseState {
    let parser: IpvsadmParser
    var command: CommandKind?
    var options: OptionColumns = []
    var format: ListFormat = []
    var wantsHelp = false
    var wantsVersion = false

    // Service.
    var family: AddressFamily?
    var proto = IPProtocol.tcp
    var svcProtocolSet = false
    var address: IPAddress?
    var port: UInt16 = 0
    var fwmark: UInt32 = 0
    var scheduler = ""
    var flags = ServiceFlags()
    var persistence: UInt32 = 0
    /// Network order for IPv4, as ipvsadm keeps it; prefix length for IPv6.
    var netmask: UInt32 = 0xFFFF_FFFF
    var engine = ""
    var schedFlagsArgument = ""

    // Real server.
    var serverFamily: AddressFamily?
    var serverAddress: IPAddress?
    var serverPort: UInt16 = 0
    var forwarding = ForwardingMethod.directRouting
    var weight: UInt32 = 1
    var upper: UInt32 = 0
    var lower: UInt32 = 0
    var tunnelType: UInt8 = 0
    var tunnelPort: UInt16 = 0
    var tunnelFlags: UInt16 = 0

    // Daemon.
    var daemonState = SyncDaemon.State.master
    var interface = ""
    var syncID: UInt32 = 0
    var group: IPAddress?
    var mcastPort: UInt16 = 0
    var mcastTTL: UInt8 = 0
    var maxLength: UInt16 = 0

    var timeouts = Timeouts()

    init(parser: IpvsadmParser) { self.parser = parser }

    mutating func run(_ arguments: [String]) throws(AdminError) -> AdminCommand {
        var scanner = PoptScanner(arguments)
        let first: (OptionSpec, String?)?
        do { first = try scanner.nextOption() } catch { throw parser.tryHelp }
        guard let (spec, value) = first else { throw parser.tryHelp }
        try setCommand(spec.tag, value)
        if wantsHelp { return .help }
        if wantsVersion { return .version }
        while true {
            let next: (OptionSpec, String?)?
            do {
                next = try scanner.nextOption()
            } catch {
                throw AdminError("\(scanner.currentArgument): \(error.text)", status: 255)
            }
            guard let (spec, value) = next else { break }
            try apply(spec.tag, value, badOption: scanner.currentArgument)
        }
        var leftovers = scanner.leftovers[...]
        if command == .timeout {
            guard leftovers.count >= 3 else { throw .usage("--set option requires 3 timeout values") }
            timeouts.tcp = try parseTimeout(leftovers.popFirst(), min: 0)
            timeouts.tcpFin = try parseTimeout(leftovers.popFirst(), min: 0)
            timeouts.udp = try parseTimeout(leftovers.popFirst(), min: 0)
        }
        if let extra = leftovers.first { throw .usage("unexpected argument \(extra)") }
        if !schedFlagsArgument.isEmpty {
            flags.subtract([.scheduler1, .scheduler2, .scheduler3])
            flags.formUnion(try parseSchedFlags(schedFlagsArgument))
        }
        guard let command else { throw parser.tryHelp }
        try checkOptions(command)
        return try build(command)
    }

    private mutating func setCommand(_ tag: OptionTag, _ value: String?) throws(AdminError) {
        switch tag {
        case .addService: command = .add
        case .editService: command = .edit
        case .deleteService: command = .delete
        case .addServer: command = .addServer
        case .editServer: command = .editServer
        case .deleteServer: command = .deleteServer
        case .clear: command = .flush
        case .list: command = .list
        case .zero: command = .zero
        case .set: command = .timeout
        case .restore: command = .restore
        case .save: command = .save
        case .startDaemon:
            command = .startDaemon
            switch value {
            case "master": daemonState = .master
            case "backup": daemonState = .backup
            default: throw .usage("illegal start-daemon parameter specified")
            }
        case .stopDaemon:
            command = .stopDaemon
            switch value {
            case "master": daemonState = .master
            case "backup": daemonState = .backup
            default: throw .usage("illegal start_daemon specified")
            }
        case .help: wantsHelp = true
        case .version: wantsVersion = true
        default: throw parser.tryHelp
        }
    }

    private mutating func set(_ column: OptionColumn) throws(AdminError) {
        if options.contains(column) { throw .usage("multiple '\(column.name)' options specified") }
        options.insert(column)
    }

    private mutating func apply(_ tag: OptionTag, _ raw: String?, badOption: String) throws(AdminError) {
        let value = raw ?? ""
        switch tag {
        case .tcpService, .udpService, .sctpService:
            try set(.service)
            proto = tag == .tcpService ? .tcp : tag == .udpService ? .udp : .sctp
            guard let parsed = parseService(value, proto: proto) else {
                throw .usage("illegal virtual server address[:port] specified")
            }
            family = parsed.address.family
            address = parsed.address
            if parsed.address.family == .inet6 { netmask = 128 }
            if let p = parsed.port { port = p }
        case .fwmarkService:
            try set(.service)
            family = .inet
            proto = .tcp
            guard let mark = number(value, 1, Int(UInt32.max)) else {
                throw .usage("invalid fwmark value `\(value)' specified")
            }
            fwmark = UInt32(mark)
        case .scheduler:
            try set(.scheduler)
            scheduler = String(value.utf8.prefix(Scheduler.maximumNameLength)) ?? value
        case .persistent:
            try set(.persistent)
            flags.insert(.persistent)
            persistence = try parseTimeout(raw, min: 1)
        case .netmask:
            try set(.netmask)
            if family != .inet6 {
                guard let mask = parseNetmask(value) else {
                    throw .usage("illegal virtual server persistent mask specified")
                }
                netmask = mask
            } else {
                let n = atoi(value)
                guard n >= 1, n <= 128 else { throw .usage("illegal ipv6 netmask specified") }
                netmask = UInt32(n)
            }
        case .realServer:
            try set(.server)
            guard let parsed = parseService(value, proto: proto) else {
                throw .usage("illegal real server address[:port] specified")
            }
            serverFamily = parsed.address.family
            serverAddress = parsed.address
            serverPort = parsed.port ?? port
        case .ipip:
            try set(.forward)
            forwarding = .tunnel
        case .gatewaying:
            try set(.forward)
            forwarding = .directRouting
        case .masquerading:
            try set(.forward)
            forwarding = .masquerade
        case .weight:
            try set(.weight)
            let weights = RealServer.weights.asInts
            guard let n = number(value, weights.lowerBound, weights.upperBound) else {
                throw .usage("illegal weight specified")
            }
            weight = UInt32(n)
        case .upperThreshold:
            try set(.upperThreshold)
            guard let n = number(value, 0, Int(Int32.max)) else { throw .usage("illegal u_threshold specified") }
            upper = UInt32(n)
        case .lowerThreshold:
            try set(.lowerThreshold)
            guard let n = number(value, 0, Int(Int32.max)) else { throw .usage("illegal l_threshold specified") }
            lower = UInt32(n)
        case .connection: try set(.connection)
        case .numeric:
            try set(.numeric)
            format.insert(.numeric)
        case .mcastInterface:
            try set(.mcast)
            interface = String(value.utf8.prefix(15)) ?? value
        case .syncID:
            try set(.syncID)
            guard let n = number(value, 0, 255) else { throw .usage("illegal syncid specified") }
            syncID = UInt32(n)
        case .timeout: try set(.timeout)
        case .daemon: try set(.daemon)
        case .stats:
            try set(.stats)
            format.insert(.stats)
        case .rate:
            try set(.rate)
            format.insert(.rate)
        case .thresholds:
            try set(.thresholds)
            format.insert(.thresholds)
        case .persistentConnections:
            try set(.persistentConn)
            format.insert(.persistentConnections)
        case .noSort:
            try set(.noSort)
            format.insert(.noSort)
        case .sort: break
        case .exact:
            try set(.exact)
            format.insert(.exact)
        case .ipv6:
            guard fwmark != 0 else { throw .usage("-6 used before -f\n") }
            family = .inet6
            netmask = 128
        case .ops:
            try set(.onePacket)
            flags.insert(.onePacket)
        case .persistenceEngine:
            try set(.persistenceEngine)
            engine = String(value.utf8.prefix(16)) ?? value
        case .schedFlags:
            try set(.schedFlags)
            schedFlagsArgument = String(value.utf8.prefix(127)) ?? value
        case .mcastGroup:
            try set(.mcastGroup)
            if value.contains(":") {
                guard let a = IPAddress(value), a.bytes[0] == 0xFF else {
                    throw .usage("invalid IPv6 mcast-group `\(value)'")
                }
                group = a
            } else {
                guard let a = IPAddress(value), let v = a.ipv4Value, v >> 28 == 0xE else {
                    throw .usage("invalid IPv4 mcast-group `\(value)'")
                }
                group = a
            }
        case .mcastPort:
            try set(.mcastPort)
            guard let n = number(value, 1, 65535) else { throw .usage("illegal mcast-port specified") }
            mcastPort = UInt16(n)
        case .mcastTTL:
            try set(.mcastTTL)
            guard let n = number(value, 1, 255) else { throw .usage("illegal mcast-ttl specified") }
            mcastTTL = UInt8(n)
        case .syncMaxLength:
            try set(.syncMaxLength)
            guard let n = number(value, 1, 65535 - 20 - 8) else { throw .usage("illegal sync-maxlen specified") }
            maxLength = UInt16(n)
        case .tunnelInfo:
            try set(.tunnelInfo)
            format.insert(.tunnelInfo)
        case .tunnelType:
            try set(.tunnelType)
            switch value {
            case "ipip": tunnelType = TunnelType.ipip.rawValue
            case "gue": tunnelType = TunnelType.gue.rawValue
            case "gre": tunnelType = TunnelType.gre.rawValue
            default: throw .usage("illegal tunnel type specified")
            }
        case .tunnelPort:
            try set(.tunnelPort)
            guard let n = number(value, 1, 65535) else { throw .usage("illegal tunnel port specified") }
            tunnelPort = UInt16(n)
        case .tunnelNoChecksum: try set(.tunnelNoChecksum)
        case .tunnelChecksum:
            try set(.tunnelChecksum)
            tunnelFlags |= TunnelFlags.checksum.rawValue
        case .tunnelRemoteChecksum:
            try set(.tunnelRemoteChecksum)
            tunnelFlags |= TunnelFlags.remoteChecksum.rawValue
        default:
            throw .usage("invalid option `\(badOption)'")
        }
    }

    private func checkOptions(_ command: CommandKind) throws(AdminError) {
        let row = command.legality
        try checkLegality(of: OptionColumn.allCases, in: "'\(command.name)' command") { _, column in
            row[column.rawValue]
        }
    }

    private func checkTunnel() throws(AdminError) {
        // Columns tun-port, tun-nocsum, tun-csum, tun-remcsum per tunnel type ipip, gue, gre.
        let table: [StaticString] = ["xxxx", "+111", "x11x"]
        let names = ["ipip", "gue", "gre"]
        let columns: [OptionColumn] = [.tunnelPort, .tunnelNoChecksum, .tunnelChecksum, .tunnelRemoteChecksum]
        let type = Int(tunnelType)
        guard type < table.count else { return }
        try checkLegality(of: columns, in: "'\(names[type])' tunnel type") { index, _ in table[type].utf8Start[index] }
    }

    /// ipvsadm's option-legality check over one row of its table: `+` required, `x` illegal, `1` at most one
    /// of the columns so marked; `context` names the command or tunnel type in the messages.
    private func checkLegality(
        of columns: [OptionColumn],
        in context: String,
        rule: (Int, OptionColumn) -> UInt8
    ) throws(AdminError) {
        var exclusive: OptionColumn?
        for (index, column) in columns.enumerated() {
            let rule = rule(index, column)
            if !options.contains(column) {
                if rule == UInt8(ascii: "+") {
                    throw .usage("You need to supply the '\(column.name)' option for the \(context)")
                }
                continue
            }
            if rule == UInt8(ascii: "x") {
                throw .usage("Illegal '\(column.name)' option with the \(context)")
            }
            if rule == UInt8(ascii: "1") {
                if let last = exclusive {
                    throw .usage(
                        "The option '\(column.name)' conflicts with the '\(last.name)' option in the \(context)"
                    )
                }
                exclusive = column
            }
        }
    }

    private var serviceID: VirtualServer.ID? {
        if fwmark != 0 { return .firewallMark(fwmark, family ?? .inet) }
        guard let address else { return nil }
        return .service(proto, address, port: port)
    }

    private mutating func build(_ command: CommandKind) throws(AdminError) -> AdminCommand {
        if command == .add || command == .edit {
            if fwmark == 0, port == 0, !flags.contains(.persistent) {
                throw .usage("Zero port specified for non-persistent service")
            }
            if flags.contains(.onePacket), fwmark == 0, proto != .udp {
                throw .usage("One-Packet Scheduling is only for UDP virtual services")
            }
            if scheduler.isEmpty { scheduler = "wlc" }
        }
        if command == .startDaemon, interface.isEmpty { interface = "eth0" }
        if command == .addServer || command == .editServer {
            if fwmark == 0, forwarding == .tunnel || forwarding == .directRouting { serverPort = port }
            if serverFamily != family, forwarding != .tunnel {
                throw .usage("Different address family is allowed only for tunneling servers")
            }
            let tunnelOptions: OptionColumns = [
                .tunnelType, .tunnelPort, .tunnelNoChecksum, .tunnelChecksum, .tunnelRemoteChecksum,
            ]
            if !options.isDisjoint(with: tunnelOptions), forwarding != .tunnel {
                throw .usage("Tunnel options conflict with forward method")
            }
            try checkTunnel()
        }
        switch command {
        case .list:
            let conflicting =
                (!options.isDisjoint(with: [.connection, .timeout, .daemon])
                    && !options.isDisjoint(with: [.stats, .rate, .thresholds]))
                || (!options.isDisjoint(with: [.timeout, .daemon]) && options.contains(.persistentConn))
            if conflicting { throw .usage("options conflicts in the list command") }
            if options.contains(.connection) { return .list(.connections, format) }
            if options.contains(.service), let id = serviceID { return .list(.service(id), format) }
            if options.contains(.timeout) { return .list(.timeouts, format) }
            if options.contains(.daemon) { return .list(.daemons, format) }
            return .list(.all, format)
        case .restore: return .restore
        case .save: return .save(format.union(.rule))
        case .flush: return .change(.flush)
        case .add, .edit:
            guard let id = serviceID else { throw parser.tryHelp }
            let mask = family == .inet6 ? netmask : UInt32(bigEndian: netmask)
            let vs = VirtualServer(
                id: id,
                scheduler: Scheduler(rawValue: scheduler),
                flags: flags,
                timeout: persistence,
                netmask: mask,
                persistenceEngine: engine.isEmpty ? nil : engine
            )
            return .change(command == .add ? .addService(vs) : .updateService(vs))
        case .delete:
            guard let id = serviceID else { throw parser.tryHelp }
            return .change(.deleteService(id))
        case .zero:
            return .change(.zero(options.contains(.service) ? serviceID : nil))
        case .addServer, .editServer, .deleteServer:
            guard let id = serviceID, let serverAddress else { throw parser.tryHelp }
            if command == .deleteServer {
                return .change(.deleteServer(RealServer.ID(address: serverAddress, port: serverPort), from: id))
            }
            let rs = RealServer(
                address: serverAddress,
                port: serverPort,
                forwarding: forwarding,
                weight: weight,
                upperThreshold: upper,
                lowerThreshold: lower,
                tunnelType: TunnelType(rawValue: tunnelType),
                tunnelPort: tunnelPort,
                tunnelFlags: TunnelFlags(rawValue: tunnelFlags)
            )
            return .change(command == .addServer ? .addServer(rs, to: id) : .updateServer(rs, in: id))
        case .timeout: return .change(.setTimeouts(timeouts))
        case .startDaemon:
            return .change(
                .startDaemon(
                    SyncDaemon(
                        state: daemonState,
                        interface: interface,
                        syncID: syncID,
                        maximumLength: maxLength == 0 ? nil : maxLength,
                        multicastGroup: group,
                        multicastPort: mcastPort == 0 ? nil : mcastPort,
                        multicastTTL: mcastTTL == 0 ? nil : mcastTTL
                    )
                )
            )
        case .stopDaemon: return .change(.stopDaemon(daemonState))
        }
    }

    // MARK: Value parsers (ipvsadm's string_to_number, parse_service, parse_netmask, parse_sched_flags)

    /// `strtol` base 10 of the whole string within `min...max`, like ipvsadm's `string_to_number`: blanks,
    /// tabs and newlines, then an optional sign and at least one ASCII digit, and nothing else. Any other
    /// byte (a non-ASCII one included) makes it no number, so working on bytes is exact.
    private func number(_ text: some StringProtocol, _ min: Int, _ max: Int) -> Int? {
        var bytes = text.utf8[...]
        while let b = bytes.first, b == UInt8(ascii: " ") || b == UInt8(ascii: "\t") || b == UInt8(ascii: "\n") {
            bytes = bytes.dropFirst()
        }
        var negative = false
        if let sign = bytes.first, sign == UInt8(ascii: "+") || sign == UInt8(ascii: "-") {
            negative = sign == UInt8(ascii: "-")
            bytes = bytes.dropFirst()
        }
        guard !bytes.isEmpty else { return nil }
        var magnitude = 0
        for b in bytes {
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "9") else { return nil }
            let (times10, overflow1) = magnitude.multipliedReportingOverflow(by: 10)
            let (sum, overflow2) = times10.addingReportingOverflow(Int(b - UInt8(ascii: "0")))
            // Past Int's range; `min` is never negative, so no such number is ever in range.
            if overflow1 || overflow2 { return nil }
            magnitude = sum
        }
        let n = negative ? -magnitude : magnitude
        guard min <= n, n <= max else { return nil }
        return n
    }

    private func parseTimeout(_ text: String?, min: Int) throws(AdminError) -> UInt32 {
        guard let text else { return IpvsadmParser.defaultPersistence }
        guard let n = number(text, min, IpvsadmParser.maximumTimeout) else {
            throw .usage("invalid timeout value `\(text)' specified")
        }
        return UInt32(n)
    }

    /// `inet_aton`, then a host name; the mask in network order as ipvsadm keeps it.
    private func parseNetmask(_ text: String) -> UInt32? {
        if let a = inetAton(text) { return a.ipv4Value.map { $0.bigEndian } }
        return parser.resolver.ipv4Address(ofHost: text)?.ipv4Value.map { $0.bigEndian }
    }

    private func inetAton(_ text: String) -> IPAddress? {
        var addr = in_addr()
        guard inet_aton(text, &addr) != 0 else { return nil }
        return IPAddress(ipv4: UInt32(bigEndian: addr.s_addr))
    }

    /// `host[:port]`, `[v6]:port` or a bare IPv6 address; nil where ipvsadm says "illegal ... specified".
    func parseService(_ text: String, proto: IPProtocol) -> (address: IPAddress, port: UInt16?)? {
        // Only digits (or nothing) is a port without an address. Bytes throughout, as ipvsadm reads C strings.
        if text.utf8.allSatisfy({ $0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9") }) { return nil }
        let bytes = text.utf8
        var host = Substring(text)
        var portText: Substring?
        if bytes.first == UInt8(ascii: "[") {
            guard let close = bytes.firstIndex(of: UInt8(ascii: "]")) else { return nil }
            let after = host[host.utf8.index(after: close)...]
            guard after.utf8.first == UInt8(ascii: ":") else { return nil }
            portText = after.droppingFirstByte()
            host = host.droppingFirstByte()[..<close]
        }
        let address: IPAddress
        // IPv6 text has at least two colons; `IPAddress` would fail on fewer.
        if host.utf8.count(where: { $0 == UInt8(ascii: ":") }) >= 2, let v6 = IPAddress(host), v6.family == .inet6 {
            address = v6
        } else {
            if let colon = host.utf8.lastIndex(of: UInt8(ascii: ":")) {
                portText = host[host.utf8.index(after: colon)...]
                host = host[..<colon]
            }
            if let v4 = inetAton(String(host)) {
                address = v4
            } else if let v4 = parser.resolver.ipv4Address(ofHost: String(host)) {
                address = v4
            } else {
                return nil
            }
        }
        guard let portText else { return (address, nil) }
        if let n = number(portText, 0, 65535) { return (address, UInt16(n)) }
        if let p = parser.resolver.port(ofService: String(portText), protocol: proto) { return (address, p) }
        return nil
    }

    private func parseSchedFlags(_ text: String) throws(AdminError) -> ServiceFlags {
        let sched = scheduler.isEmpty ? "wlc" : scheduler
        var result = ServiceFlags()
        let parts = text.split(separator: ",", omittingEmptySubsequences: true)
        if parts.isEmpty { throw .usage("invalid scheduler flag `\(text)'") }
        for flag in parts {
            switch flag {
            case "flag-1": result.insert(.scheduler1)
            case "flag-2": result.insert(.scheduler2)
            case "flag-3": result.insert(.scheduler3)
            case "sh-fallback", "sh-port", "mh-fallback", "mh-port":
                result.insert(flag.hasSuffix("fallback") ? .scheduler1 : .scheduler2)
                if sched != String(flag.prefix(2)) { throw .usage("incompatible scheduler flag `\(flag)'") }
            default: throw .usage("invalid scheduler flag `\(flag)'")
            }
        }
        return result
    }
}
