import IPVS

/// A virtual service with its real servers, as read from the kernel.
public struct ServiceEntry: Hashable, Sendable {
    public var service: ObservedVirtualServer
    public var servers: [ObservedRealServer]

    public init(service: ObservedVirtualServer, servers: [ObservedRealServer]) {
        self.service = service
        self.servers = servers
    }
}

/// Prints ipvsadm's `-L` and `-S` formats byte for byte (`list_all`, `print_title`, `print_service_entry`).
public struct ListPrinter: Sendable {
    public var format: ListFormat
    public var resolver: any NameResolver

    public init(format: ListFormat, resolver: any NameResolver = SystemResolver()) {
        self.format = format
        self.resolver = resolver
    }

    /// `IP Virtual Server version 1.2.1 (size=4096)`.
    public static func versionLine(_ info: IPVSInfo) -> String {
        "IP Virtual Server version \(info.version) (size=\(info.connectionTableSize))\n"
    }

    /// The whole table: the version line (not for `-S`), the title and every service, sorted unless `--nosort`.
    public func table(_ entries: [ServiceEntry], info: IPVSInfo) -> String {
        var out = format.contains(.rule) ? "" : Self.versionLine(info)
        out.reserveCapacity(entries.reduce(256) { $0 + 80 * (1 + $1.servers.count) })
        out += title()
        for entry in format.contains(.noSort) ? entries : IPVSSort.services(entries) { write(entry, to: &out) }
        return out
    }

    /// `-L -t ADDR`: the title and one service.
    public func single(_ entry: ServiceEntry) -> String { title() + service(entry) }

    /// `print_title`.
    public func title() -> String {
        let prot = "Prot LocalAddress:Port"
        if format.contains(.stats) {
            return pad(prot, 33) + " "
                + ["Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"].map { rpad($0, 8) }
                .joined(separator: " ") + "\n  -> RemoteAddress:Port\n"
        }
        if format.contains(.rate) {
            return pad(prot, 33) + " "
                + ["CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"].map { rpad($0, 8) }
                .joined(separator: " ") + "\n  -> RemoteAddress:Port\n"
        }
        if format.contains(.thresholds) {
            return pad(prot, 33) + " "
                + ["Uthreshold", "Lthreshold", "ActiveConn", "InActConn"].map { pad($0, 10) }
                .joined(separator: " ") + "\n  -> RemoteAddress:Port\n"
        }
        if format.contains(.persistentConnections) {
            return pad(prot, 33) + " " + pad("Weight", 9) + " " + pad("PersistConn", 11) + " "
                + pad("ActiveConn", 10) + " " + pad("InActConn", 10) + "\n  -> RemoteAddress:Port\n"
        }
        if format.contains(.tunnelInfo) {
            return "Prot LocalAddress:Port Scheduler Flags\n"
                + "  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn\n"
        }
        if format.contains(.rule) { return "" }
        return "Prot LocalAddress:Port Scheduler Flags\n"
            + "  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n"
    }

    /// `print_service_entry`: the service line and its real servers.
    public func service(_ entry: ServiceEntry) -> String {
        var out = ""
        write(entry, to: &out)
        return out
    }

    /// ``service(_:)``, appended to `out`.
    func write(_ entry: ServiceEntry, to out: inout String) {
        let vs = entry.service.virtualServer
        let stats = entry.service.statistics
        let family = vs.id.family
        let proto: IPProtocol
        var name: String
        switch vs.id {
        case .firewallMark(let mark, let af):
            proto = IPProtocol(rawValue: 0)
            if format.contains(.rule) {
                name = af == .inet6 ? "-f \(mark) -6" : "-f \(mark)"
            } else {
                name = af == .inet6 ? "FWM  \(mark) IPv6" : "FWM  \(mark)"
            }
        case .service(let p, let address, let port):
            proto = p
            if format.contains(.rule) {
                name =
                    switch p {
                    case .tcp: "-t "
                    case .udp: "-u "
                    case .sctp: "--sctp-service "
                    default: "--xxx-service "
                    }
                appendAddressPort(address, port, proto: p, to: &name)
            } else {
                let vname = addressPort(address, port, proto: p)
                let pname =
                    switch p {
                    case .tcp: "TCP"
                    case .udp: "UDP"
                    case .sctp: "SCTP"
                    default: "?"
                    }
                name = pad(pname, 4) + " " + vname
                if family != .inet6 { name = truncate(name, 33) }
            }
        }

        let schedBits: ServiceFlags = [.scheduler1, .scheduler2, .scheduler3]
        if format.contains(.rule) {
            out += "-A "
            out += name
            out += " -s "
            out += vs.scheduler.rawValue
            if vs.flags.contains(.persistent) {
                out += " -p \(vs.timeout)"
                if family == .inet, vs.netmask != 0xFFFF_FFFF { out += " -M \(IPAddress(ipv4: vs.netmask))" }
                if family == .inet6, vs.netmask != 128 { out += " -M \(Int32(bitPattern: vs.netmask))" }
            }
            if let pe = vs.persistenceEngine, !pe.isEmpty { out += " --pe \(pe)" }
            if vs.flags.contains(.onePacket) { out += " -o" }
            if !vs.flags.isDisjoint(with: schedBits) { out += " -b " + schedFlags(vs) }
        } else if format.contains(.stats) {
            out += pad(name, 33)
            for n in [stats.connections, stats.incomingPackets, stats.outgoingPackets, stats.incomingBytes] {
                out += largeNumber(n)
            }
            out += largeNumber(stats.outgoingBytes)
        } else if format.contains(.rate) {
            out += pad(name, 33)
            for n in [
                stats.connectionRate, stats.incomingPacketRate, stats.outgoingPacketRate, stats.incomingByteRate,
                stats.outgoingByteRate,
            ] {
                out += largeNumber(n)
            }
        } else {
            out += name
            out += " "
            out += vs.scheduler.rawValue
            if !vs.flags.isDisjoint(with: schedBits) { out += " (" + schedFlags(vs) + ")" }
            if vs.flags.contains(.persistent) {
                out += " persistent \(vs.timeout)"
                if family == .inet, vs.netmask != 0xFFFF_FFFF { out += " mask \(IPAddress(ipv4: vs.netmask))" }
                if family == .inet6, vs.netmask != 128 { out += " mask \(Int32(bitPattern: vs.netmask))" }
                if let pe = vs.persistenceEngine, !pe.isEmpty { out += " pe \(pe)" }
            }
            if vs.flags.contains(.onePacket) { out += " ops" }
        }
        out += "\n"

        let servers = format.contains(.noSort) ? entry.servers : IPVSSort.servers(entry.servers)
        for observed in servers {
            if format.contains(.rule) {
                writeRule(observed.realServer, serviceName: name, proto: proto, to: &out)
            } else {
                writeServer(observed, proto: proto, to: &out)
            }
        }
    }

    /// The `-a` line of `-S`.
    private func writeRule(_ rs: RealServer, serviceName: String, proto: IPProtocol, to out: inout String) {
        let method = rs.forwarding.rawValue & 0x7
        out += "-a "
        out += serviceName
        out += " -r "
        appendAddressPort(rs.address, rs.port, proto: proto, to: &out)
        out += " "
        out += Self.forwardingSwitch(method)
        out += " -w "
        out += String(Int32(bitPattern: rs.weight))
        if method == ForwardingMethod.tunnel.rawValue {
            switch rs.tunnelType {
            case .gre: out += " --tun-type gre \(Self.checksumOption(rs.tunnelFlags))"
            case .gue: out += " --tun-type gue --tun-port \(rs.tunnelPort) \(Self.checksumOption(rs.tunnelFlags))"
            case .ipip: out += " --tun-type ipip"
            default: break
            }
        }
        out += "\n"
    }

    /// A real server's line of `-L`.
    private func writeServer(_ observed: ObservedRealServer, proto: IPProtocol, to out: inout String) {
        let rs = observed.realServer
        let stats = observed.statistics
        var dname = addressPort(rs.address, rs.port, proto: proto)
        if rs.address.family != .inet6 { dname = truncate(dname, 28) }
        let method = rs.forwarding.rawValue & 0x7
        out += "  -> "
        appendPadded(dname, 28, to: &out)
        if format.contains(.stats) {
            out +=
                largeNumber(stats.connections) + largeNumber(stats.incomingPackets)
                + largeNumber(stats.outgoingPackets) + largeNumber(stats.incomingBytes)
                + largeNumber(stats.outgoingBytes) + "\n"
            return
        }
        if format.contains(.rate) {
            out +=
                " " + rpad("\(stats.connectionRate)", 8) + " "
                + rpad("\(stats.incomingPacketRate)", 8) + " " + rpad("\(stats.outgoingPacketRate)", 8)
                + largeNumber(stats.incomingByteRate) + largeNumber(stats.outgoingByteRate) + "\n"
            return
        }
        let weight = String(Int32(bitPattern: rs.weight))
        if format.contains(.thresholds) {
            out += " "
            appendPadded(String(rs.upperThreshold), 10, to: &out)
            out += " "
            appendPadded(String(rs.lowerThreshold), 10, to: &out)
        } else if format.contains(.persistentConnections) {
            out += " "
            appendPadded(String(rs.weight), 9, to: &out)
            out += " "
            appendPadded(String(observed.persistentConnections), 11, to: &out)
        } else {
            out += " "
            appendPadded(Self.forwardingName(method), 7, to: &out)
            if format.contains(.tunnelInfo) {
                out += " "
                appendPadded(Self.tunnelInfo(rs) ?? "n/a", 13, to: &out)
            }
            out += " "
            appendPadded(weight, 6, to: &out)
        }
        out += " "
        appendPadded(String(observed.activeConnections), 10, to: &out)
        out += " "
        appendPadded(String(observed.inactiveConnections), 10, to: &out)
        out += "\n"
    }

    /// `fwd_name`; C's printf shows a NULL string as "(null)".
    static func forwardingName(_ method: UInt32) -> String {
        switch method {
        case ForwardingMethod.masquerade.rawValue: "Masq"
        case ForwardingMethod.local.rawValue: "Local"
        case ForwardingMethod.tunnel.rawValue: "Tunnel"
        case ForwardingMethod.directRouting.rawValue: "Route"
        default: "(null)"
        }
    }

    /// `fwd_switch`.
    static func forwardingSwitch(_ method: UInt32) -> String {
        switch method {
        case ForwardingMethod.masquerade.rawValue: "-m"
        case ForwardingMethod.tunnel.rawValue: "-i"
        case ForwardingMethod.local.rawValue, ForwardingMethod.directRouting.rawValue: "-g"
        default: "(null)"
        }
    }

    static func checksumOption(_ flags: TunnelFlags) -> String {
        switch flags.rawValue {
        case 0: "--tun-nocsum"
        case 1: "--tun-csum"
        case 2: "--tun-remcsum"
        default: "(null)"
        }
    }

    static func checksumShort(_ flags: TunnelFlags) -> String {
        switch flags.rawValue {
        case 0: "-c"
        case 1: "+c"
        case 2: "r+c"
        default: "(null)"
        }
    }

    /// `fwd_tun_info`, cut to 15 bytes like its 16-byte buffer.
    static func tunnelInfo(_ rs: RealServer) -> String? {
        guard rs.forwarding.rawValue & 0x7 == ForwardingMethod.tunnel.rawValue else { return nil }
        let text: String
        switch rs.tunnelType {
        case .ipip: text = "ipip"
        case .gue: text = "gue:\(rs.tunnelPort):\(checksumShort(rs.tunnelFlags))"
        case .gre: text = "gre:\(checksumShort(rs.tunnelFlags))"
        default: return nil
        }
        return String(text.prefix(15))
    }

    private func schedFlags(_ vs: VirtualServer) -> String {
        var names: [String] = []
        switch vs.scheduler.rawValue {
        case "sh", "mh":
            let s = vs.scheduler.rawValue
            if vs.flags.contains(.scheduler1) { names.append("\(s)-fallback") }
            if vs.flags.contains(.scheduler2) { names.append("\(s)-port") }
        default:
            if vs.flags.contains(.scheduler1) { names.append("flag-1") }
            if vs.flags.contains(.scheduler2) { names.append("flag-2") }
            if vs.flags.contains(.scheduler3) { names.append("flag-3") }
        }
        return names.joined(separator: ",")
    }

    /// `addrport_to_anyname`: `addr:port` or `[addr]:port`, names unless `-n`, cut to 59 bytes.
    func addressPort(_ address: IPAddress, _ port: UInt16, proto: IPProtocol) -> String {
        var out = ""
        appendAddressPort(address, port, proto: proto, to: &out)
        return out
    }

    /// ``addressPort(_:_:proto:)``, appended to `out`.
    func appendAddressPort(_ address: IPAddress, _ port: UInt16, proto: IPProtocol, to out: inout String) {
        guard format.contains(.numeric) else {
            out += namedAddressPort(address, port, proto: proto)
            return
        }
        if let ipv4 = address.ipv4Value {
            appendDottedQuad(ipv4, to: &out)
        } else {
            out += "["
            out += address.description
            out += "]"
        }
        out += ":"
        out += String(port)
    }

    /// `a.b.c.d`, as `inet_ntop` prints an IPv4 address.
    private func appendDottedQuad(_ value: UInt32, to out: inout String) {
        out += String(value >> 24)
        for shift: UInt32 in [16, 8, 0] {
            out += "."
            out += String(value >> shift & 0xFF)
        }
    }

    private func namedAddressPort(_ address: IPAddress, _ port: UInt16, proto: IPProtocol) -> String {
        let (open, close) = address.family == .inet ? ("", "") : ("[", "]")
        let host = resolver.hostName(of: address) ?? address.description
        let service = resolver.serviceName(ofPort: port, protocol: proto) ?? "\(port)"
        return truncate("\(open)\(host)\(close):\(service)", 59)
    }

    /// `print_largenum`.
    public func largeNumber(_ n: UInt64) -> String {
        if format.contains(.exact) {
            let text = "\(n)"
            return rpad(text, text.count <= 8 ? 9 : text.count + 1)
        }
        if n < 100_000_000 { return rpad("\(n)", 9) }
        if n < 1_000_000_000 { return rpad("\(n / 1000)", 8) + "K" }
        if n < 100_000_000_000 { return rpad("\(n / 1_000_000)", 8) + "M" }
        if n < 100_000_000_000_000 { return rpad("\(n / 1_000_000_000)", 8) + "G" }
        return rpad("\(n / 1_000_000_000_000)", 8) + "T"
    }
}

/// `printf("%-*s")`.
func pad(_ text: String, _ width: Int) -> String {
    let count = text.utf8.count
    return count >= width ? text : text + String(repeating: " ", count: width - count)
}

/// `printf("%-*s")`, appended to `out`.
func appendPadded(_ text: String, _ width: Int, to out: inout String) {
    out += text
    let count = text.utf8.count
    if count < width { out += String(repeating: " ", count: width - count) }
}

/// `printf("%*s")`.
func rpad(_ text: String, _ width: Int) -> String {
    let count = text.utf8.count
    return count >= width ? text : String(repeating: " ", count: width - count) + text
}

/// Cuts to at most `bytes` bytes, as ipvsadm does by writing a NUL into its buffer.
func truncate(_ text: String, _ bytes: Int) -> String {
    text.utf8.count <= bytes ? text : String(decoding: text.utf8.prefix(bytes), as: UTF8.self)
}

/// ipvsadm's sort order (`ipvs_cmp_services`, `ipvs_cmp_dests` under glibc's merge sort), quirks included:
/// addresses compare by the sign of a 32-bit wrapping difference, as the C code does.
public enum IPVSSort {
    /// The address as ipvsadm's comparisons read it: four 32-bit words, IPv4 in the first.
    private typealias Words = (UInt32, UInt32, UInt32, UInt32)

    private static func words(_ address: IPAddress) -> Words {
        if let ipv4 = address.ipv4Value { return (ipv4, 0, 0, 0) }
        let b = address.bytes
        func word(_ i: Int) -> UInt32 {
            UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
        }
        return (word(0), word(4), word(8), word(12))
    }

    private static func compareWords(_ wa: Words, _ wb: Words, wide: Bool) -> Int32 {
        var r = Int32(bitPattern: wa.0 &- wb.0)
        if !wide || r != 0 { return r }
        r = Int32(bitPattern: wa.1 &- wb.1)
        if r != 0 { return r }
        r = Int32(bitPattern: wa.2 &- wb.2)
        if r != 0 { return r }
        return Int32(bitPattern: wa.3 &- wb.3)
    }

    /// What `ipvs_cmp_services` compares, in its order.
    private struct ServiceKey {
        var mark: UInt32
        var family: Int32
        var proto: Int32
        var address: Words
        var port: Int32
        var wide: Bool

        init(_ id: VirtualServer.ID) {
            switch id {
            case .firewallMark(let mark, let af):
                (self.mark, family, proto, address, port) = (mark, Int32(af.rawValue), 0, (0, 0, 0, 0), 0)
            case .service(let p, let a, let port):
                (mark, family, proto, address, self.port) =
                    (0, Int32(a.family.rawValue), Int32(p.rawValue), IPVSSort.words(a), Int32(port))
            }
            wide = id.family == .inet6
        }

        static func compare(_ l: ServiceKey, _ r: ServiceKey) -> Int32 {
            var c = Int32(bitPattern: l.mark &- r.mark)
            if c != 0 { return c }
            c = l.family - r.family
            if c != 0 { return c }
            c = l.proto - r.proto
            if c != 0 { return c }
            c = compareWords(l.address, r.address, wide: l.wide)
            if c != 0 { return c }
            return l.port - r.port
        }
    }

    /// What `ipvs_cmp_dests` compares.
    private struct ServerKey {
        var address: Words
        var port: Int32
        var wide: Bool

        init(_ rs: RealServer) {
            (address, port, wide) = (IPVSSort.words(rs.address), Int32(rs.port), rs.address.family == .inet6)
        }

        static func compare(_ l: ServerKey, _ r: ServerKey) -> Int32 {
            let c = compareWords(l.address, r.address, wide: l.wide)
            if c != 0 { return c }
            return l.port - r.port
        }
    }

    static func compareServices(_ lhs: VirtualServer.ID, _ rhs: VirtualServer.ID) -> Int32 {
        ServiceKey.compare(ServiceKey(lhs), ServiceKey(rhs))
    }

    static func compareServers(_ lhs: RealServer, _ rhs: RealServer) -> Int32 {
        ServerKey.compare(ServerKey(lhs), ServerKey(rhs))
    }

    public static func services(_ entries: [ServiceEntry]) -> [ServiceEntry] {
        sorted(entries, keys: entries.map { ServiceKey($0.service.virtualServer.id) }, by: ServiceKey.compare)
    }

    public static func servers(_ servers: [ObservedRealServer]) -> [ObservedRealServer] {
        sorted(servers, keys: servers.map { ServerKey($0.realServer) }, by: ServerKey.compare)
    }

    /// `items` ordered by ``mergeSort(_:_:)`` of their keys, computed once each.
    private static func sorted<T, Key>(_ items: [T], keys: [Key], by compare: (Key, Key) -> Int32) -> [T] {
        guard items.count > 1 else { return items }
        return mergeSort(Array(keys.indices)) { compare(keys[$0], keys[$1]) }.map { items[$0] }
    }

    /// glibc's `msort_with_tmp`: split at n/2, merge taking the left element when the comparison is <= 0.
    static func mergeSort<T>(_ items: [T], _ compare: (T, T) -> Int32) -> [T] {
        guard items.count > 1 else { return items }
        var result = items
        var scratch = items
        result.withUnsafeMutableBufferPointer { result in
            scratch.withUnsafeMutableBufferPointer { scratch in
                mergeSort(result, 0..<result.count, scratch: scratch, compare)
            }
        }
        return result
    }

    private static func mergeSort<T>(
        _ items: UnsafeMutableBufferPointer<T>,
        _ range: Range<Int>,
        scratch: UnsafeMutableBufferPointer<T>,
        _ compare: (T, T) -> Int32
    ) {
        guard range.count > 1 else { return }
        let middle = range.lowerBound + range.count / 2
        mergeSort(items, range.lowerBound..<middle, scratch: scratch, compare)
        mergeSort(items, middle..<range.upperBound, scratch: scratch, compare)
        var i = range.lowerBound
        var j = middle
        var k = range.lowerBound
        while i < middle, j < range.upperBound {
            if compare(items[i], items[j]) <= 0 {
                scratch[k] = items[i]
                i += 1
            } else {
                scratch[k] = items[j]
                j += 1
            }
            k += 1
        }
        while i < middle {
            scratch[k] = items[i]
            i += 1
            k += 1
        }
        while j < range.upperBound {
            scratch[k] = items[j]
            j += 1
            k += 1
        }
        for index in range { items[index] = scratch[index] }
    }
}
