extension AgentState {
    /// The state file's bytes: JSON with the keys in a fixed order, one service per line.
    ///
    /// Written here rather than by Foundation's `JSONEncoder`, which took about a second of the first sync
    /// at 10k Services in the VM: the file is written twice there (the intent record, then ownership), and
    /// the encoder's per-value `Codable` containers cost far more than the bytes. `AgentState.decode` still
    /// reads it with `JSONDecoder`, so files from earlier releases (pretty-printed by the encoder) load too.
    public func encoded() -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(64 + (owned.count + pending.count) * 64 + clusterIPs.count * 48)
        out.append(contentsOf: "{\n  \"version\": \(version),\n".utf8)
        for (name, services) in [("owned", owned), ("pending", pending)] {
            out.append(contentsOf: "  \"\(name)\": [".utf8)
            for (index, service) in services.enumerated() {
                out.append(contentsOf: index == 0 ? "\n    {\"protocol\": ".utf8 : ",\n    {\"protocol\": ".utf8)
                Self.appendString(service.protocol, to: &out)
                out.append(contentsOf: ", \"address\": ".utf8)
                Self.appendString(service.address, to: &out)
                out.append(contentsOf: ", \"port\": \(service.port)}".utf8)
            }
            out.append(contentsOf: services.isEmpty ? "],\n".utf8 : "\n  ],\n".utf8)
        }
        out.append(contentsOf: "  \"clusterIPs\": {".utf8)
        for (index, key) in clusterIPs.keys.sorted().enumerated() {
            out.append(contentsOf: index == 0 ? "\n    ".utf8 : ",\n    ".utf8)
            Self.appendString(key, to: &out)
            out.append(contentsOf: ": ".utf8)
            Self.appendString(clusterIPs[key] ?? "", to: &out)
        }
        out.append(contentsOf: clusterIPs.isEmpty ? "}\n}\n".utf8 : "\n  }\n}\n".utf8)
        return out
    }

    /// A JSON string (RFC 8259): quote, backslash and control characters escaped; the rest as its UTF-8.
    private static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"):
                out.append(UInt8(ascii: "\\"))
                out.append(byte)
            case 0..<0x20:
                out.append(contentsOf: "\\u00".utf8)
                out.append(hexDigit(byte >> 4))
                out.append(hexDigit(byte & 0xF))
            default:
                out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }

    private static func hexDigit(_ value: UInt8) -> UInt8 {
        value < 10 ? UInt8(ascii: "0") + value : UInt8(ascii: "a") + value - 10
    }
}
