import IPVS

/// Prints `-L -c` from the text of `/proc/net/ip_vs_conn` as ipvsadm's `list_conn` does.
public struct ConnectionPrinter: Sendable {
    public var format: ListFormat
    public var resolver: any NameResolver

    public init(format: ListFormat, resolver: any NameResolver) {
        self.format = format
        self.resolver = resolver
    }

    public func table(_ text: String) -> String {
        var out = "IPVS connection entries\n"
        if format.contains(.persistentConnections) {
            out +=
                "pro expire " + pad("state", 11) + " " + pad("source", 18) + " " + pad("virtual", 18) + " "
                + pad("destination", 18) + " " + pad("pe name", 16) + " pe_data\n"
        } else {
            out +=
                "pro expire " + pad("state", 11) + " " + pad("source", 18) + " " + pad("virtual", 18)
                + " destination\n"
        }
        for line in text.split(separator: "\n").dropFirst() {
            out += entry(line)
        }
        return out
    }

    private func address(_ text: Substring) -> IPAddress {
        if let a = IPAddress(text) { return a }
        return IPAddress(ipv4: UInt32(text, radix: 16) ?? 0)
    }

    private func entry(_ line: Substring) -> String {
        let f = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard f.count >= 9 else { return "" }
        let proto: IPProtocol =
            switch f[0] {
            case "TCP": .tcp
            case "UDP": .udp
            case "SCTP": .sctp
            default: IPProtocol(rawValue: 0)
            }
        let printer = ListPrinter(format: format, resolver: resolver)
        func name(_ a: Substring, _ p: Substring) -> String {
            printer.addressPort(address(a), UInt16(p, radix: 16) ?? 0, proto: proto)
        }
        let expires = Int(f[8]) ?? 0
        let expire = String(format2: expires / 60) + ":" + String(format2: expires % 60)
        var out =
            pad(String(f[0]), 3) + " " + pad(expire, 6) + " " + pad(String(f[7]), 11) + " " + pad(name(f[1], f[2]), 18)
            + " " + pad(name(f[3], f[4]), 18) + " "
        if format.contains(.persistentConnections), f.count >= 11 {
            out += pad(name(f[5], f[6]), 16) + " " + pad(String(f[9]), 18) + " " + f[10]
        } else {
            out += name(f[5], f[6])
        }
        return out + "\n"
    }
}

extension String {
    /// `%02d`.
    fileprivate init(format2 n: Int) { self = n < 10 && n >= 0 ? "0\(n)" : "\(n)" }
}
