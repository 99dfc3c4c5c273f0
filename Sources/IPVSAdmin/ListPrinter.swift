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
        out += title()
        for entry in format.contains(.noSort) ? entries : IPVSSort.services(entries) { out += service(entry) }
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
            let vname = addressPort(address, port, proto: p)
            if format.contains(.rule) {
                let option =
                    switch p {
                    case .tcp: "-t"
                    case .udp: "-u"
                    case .sctp: "--sctp-service"
                    default: "--xxx-service"
                    }
                name = "\(option) \(vname)"
            } else {
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

        var out = ""
        let schedBits: ServiceFlags = [.scheduler1, .scheduler2, .scheduler3]
        if format.contains(.rule) {
            out += "-A \(name) -s \(vs.scheduler.rawValue)"
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
            out += "\(name) \(vs.scheduler.rawValue)"
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
            out += server(observed, serviceName: name, proto: proto)
        }
        return out
    }

    private func server(_ observed: ObservedRealServer, serviceName: String, proto: IPProtocol) -> String {
        let rs = observed.realServer
        let stats = observed.statistics
        var dname = addressPort(rs.address, rs.port, proto: proto)
        if !format.contains(.rule), rs.address.family != .inet6 { dname = truncate(dname, 28) }
        let method = rs.forwarding.rawValue & 0x7
        if format.contains(.rule) {
            let option = Self.forwardingSwitch(method)
            let base = "-a \(serviceName) -r \(dname) \(option) -w \(Int32(bitPattern: rs.weight))"
            guard method == ForwardingMethod.tunnel.rawValue else { return base + "\n" }
            switch rs.tunnelType {
            case .gre: return base + " --tun-type gre \(Self.checksumOption(rs.tunnelFlags))\n"
            case .gue:
                return base + " --tun-type gue --tun-port \(rs.tunnelPort) \(Self.checksumOption(rs.tunnelFlags))\n"
            case .ipip: return base + " --tun-type ipip\n"
            default: return base + "\n"
            }
        }
        if format.contains(.stats) {
            return "  -> " + pad(dname, 28) + largeNumber(stats.connections) + largeNumber(stats.incomingPackets)
                + largeNumber(stats.outgoingPackets) + largeNumber(stats.incomingBytes)
                + largeNumber(stats.outgoingBytes) + "\n"
        }
        if format.contains(.rate) {
            return "  -> " + pad(dname, 28) + " " + rpad("\(stats.connectionRate)", 8) + " "
                + rpad("\(stats.incomingPacketRate)", 8) + " " + rpad("\(stats.outgoingPacketRate)", 8)
                + largeNumber(stats.incomingByteRate) + largeNumber(stats.outgoingByteRate) + "\n"
        }
        let active = pad("\(observed.activeConnections)", 10)
        let inactive = pad("\(observed.inactiveConnections)", 10)
        if format.contains(.thresholds) {
            return "  -> " + pad(dname, 28) + " " + pad("\(rs.upperThreshold)", 10) + " "
                + pad("\(rs.lowerThreshold)", 10) + " " + active + " " + inactive + "\n"
        }
        let weight = "\(Int32(bitPattern: rs.weight))"
        if format.contains(.persistentConnections) {
            return "  -> " + pad(dname, 28) + " " + pad("\(rs.weight)", 9) + " "
                + pad("\(observed.persistentConnections)", 11) + " " + active + " " + inactive + "\n"
        }
        if format.contains(.tunnelInfo) {
            return "  -> " + pad(dname, 28) + " " + pad(Self.forwardingName(method), 7) + " "
                + pad(Self.tunnelInfo(rs) ?? "n/a", 13) + " " + pad(weight, 6) + " " + active + " " + inactive + "\n"
        }
        return "  -> " + pad(dname, 28) + " " + pad(Self.forwardingName(method), 7) + " " + pad(weight, 6) + " "
            + active + " " + inactive + "\n"
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
        let (open, close) = address.family == .inet ? ("", "") : ("[", "]")
        if format.contains(.numeric) { return "\(open)\(address)\(close):\(port)" }
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
    private static func words(_ address: IPAddress) -> [UInt32] {
        let b = address.bytes + [UInt8](repeating: 0, count: 16 - address.bytes.count)
        var result: [UInt32] = []
        for i in 0..<4 {
            var word: UInt32 = 0
            for k in 0..<4 { word = word << 8 | UInt32(b[4 * i + k]) }
            result.append(word)
        }
        return result
    }

    private static func compareAddresses(_ a: IPAddress, _ b: IPAddress, wide: Bool) -> Int32 {
        let wa = words(a)
        let wb = words(b)
        if wide {
            for i in 0..<4 {
                let r = Int32(bitPattern: wa[i] &- wb[i])
                if r != 0 { return r }
            }
            return 0
        }
        return Int32(bitPattern: wa[0] &- wb[0])
    }

    static func compareServices(_ lhs: VirtualServer.ID, _ rhs: VirtualServer.ID) -> Int32 {
        func parts(_ id: VirtualServer.ID) -> (UInt32, Int32, Int32, IPAddress?, Int32) {
            switch id {
            case .firewallMark(let mark, let af): (mark, Int32(af.rawValue), 0, nil, 0)
            case .service(let p, let a, let port): (0, Int32(a.family.rawValue), Int32(p.rawValue), a, Int32(port))
            }
        }
        let l = parts(lhs)
        let r = parts(rhs)
        var c = Int32(bitPattern: l.0 &- r.0)
        if c != 0 { return c }
        c = l.1 - r.1
        if c != 0 { return c }
        c = l.2 - r.2
        if c != 0 { return c }
        let zero = IPAddress(ipv4: 0)
        c = compareAddresses(l.3 ?? zero, r.3 ?? zero, wide: lhs.family == .inet6)
        if c != 0 { return c }
        return l.4 - r.4
    }

    static func compareServers(_ lhs: RealServer, _ rhs: RealServer) -> Int32 {
        let c = compareAddresses(lhs.address, rhs.address, wide: lhs.address.family == .inet6)
        if c != 0 { return c }
        return Int32(lhs.port) - Int32(rhs.port)
    }

    public static func services(_ entries: [ServiceEntry]) -> [ServiceEntry] {
        mergeSort(entries) { compareServices($0.service.virtualServer.id, $1.service.virtualServer.id) }
    }

    public static func servers(_ servers: [ObservedRealServer]) -> [ObservedRealServer] {
        mergeSort(servers) { compareServers($0.realServer, $1.realServer) }
    }

    /// glibc's `msort_with_tmp`: split at n/2, merge taking the left element when the comparison is <= 0.
    static func mergeSort<T>(_ items: [T], _ compare: (T, T) -> Int32) -> [T] {
        guard items.count > 1 else { return items }
        let half = items.count / 2
        let left = mergeSort(Array(items[..<half]), compare)
        let right = mergeSort(Array(items[half...]), compare)
        var merged: [T] = []
        merged.reserveCapacity(items.count)
        var i = 0
        var j = 0
        while i < left.count, j < right.count {
            if compare(left[i], right[j]) <= 0 {
                merged.append(left[i])
                i += 1
            } else {
                merged.append(right[j])
                j += 1
            }
        }
        merged += left[i...]
        merged += right[j...]
        return merged
    }
}
