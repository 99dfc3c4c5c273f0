#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An address family the kernel's IPVS understands.
public struct AddressFamily: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: UInt16
    public init(rawValue: UInt16) { self.rawValue = rawValue }

    /// IPv4. The corresponding C constant is `AF_INET`.
    public static let inet = AddressFamily(rawValue: UInt16(AF_INET))
    /// IPv6. The corresponding C constant is `AF_INET6`.
    public static let inet6 = AddressFamily(rawValue: UInt16(AF_INET6))

    /// Length of an address of this family in bytes (16 for unknown families, the size of `nf_inet_addr`).
    public var addressLength: Int { self == .inet ? 4 : 16 }

    public var description: String {
        switch self {
        case .inet: "ipv4"
        case .inet6: "ipv6"
        default: "af\(rawValue)"
        }
    }
}

/// An IPv4 or IPv6 address, stored inline (no allocation) so tables of thousands stay cheap.
public struct IPAddress: Hashable, Sendable, Comparable, CustomStringConvertible {
    // The address bytes in network order, packed big-endian: IPv4 uses the top 32 bits of `high`.
    // The words come before the family so the value is 18 bytes, not 24: the port of an ID and the fields
    // of a real server fill the rest of its last word instead of padding after the family.
    let high: UInt64
    let low: UInt64
    /// The address family.
    public let family: AddressFamily

    /// Creates an IPv4 address from its value in host order (`0x0A000001` is 10.0.0.1).
    public init(ipv4 value: UInt32) {
        self.family = .inet
        self.high = UInt64(value) << 32
        self.low = 0
    }

    /// Creates an address from its network-order bytes: 4 for IPv4, 16 for IPv6.
    public init?(bytes: some Collection<UInt8>) {
        switch bytes.count {
        case 4: self.family = .inet
        case 16: self.family = .inet6
        default: return nil
        }
        var high: UInt64 = 0
        var low: UInt64 = 0
        for (index, byte) in bytes.enumerated() {
            if index < 8 {
                high |= UInt64(byte) << (56 - 8 * UInt64(index))
            } else {
                low |= UInt64(byte) << (56 - 8 * UInt64(index - 8))
            }
        }
        self.high = high
        self.low = low
    }

    /// Parses dotted-quad IPv4 or RFC 4291 IPv6 text (no brackets, no prefix length), as `inet_pton` does.
    ///
    /// Text without a colon is IPv4 and is read here, byte by byte, by inet_pton's own rules (four decimal
    /// parts of 0-255, no leading zeros, nothing else); only IPv6 goes to `inet_pton`. Every endpoint of an
    /// API list is parsed, and the generic `contains(":")` (by Character), the String copy and the buffer
    /// took a sixteenth of listing 10k x 10. Text holding a NUL is refused (inet_pton would stop there).
    public init?(_ text: some StringProtocol) {
        self.init(parsing: text)
    }

    /// The same, for a String, compiled here: called from another module (every endpoint a manifest or an API
    /// page lists), the generic one ran unspecialised, each byte through witness tables.
    public init?(_ text: String) {
        self.init(parsing: text)
    }

    private init?(parsing text: some StringProtocol) {
        switch Self.parseIPv4(text.utf8) {
        case .address(let value): self.init(ipv4: value)
        case .invalid: return nil
        case .notIPv4:
            var buffer = (UInt64(0), UInt64(0))
            let ok = String(text).withCString { inet_pton(AF_INET6, $0, &buffer) }
            guard ok == 1 else { return nil }
            self.init(bytes: withUnsafeBytes(of: &buffer) { Array($0) })
        }
    }

    /// Parses dotted-quad IPv4 text given as bytes, by inet_pton's rules as above; nil for anything else,
    /// IPv6 included. For readers that hold bytes, not Strings (a restore file's 110,000 lines). A concrete
    /// buffer, not a generic collection: called from another module, a generic one runs unspecialised, each
    /// byte through witness tables, and was slower than the String path it was meant to beat.
    public init?(dottedQuad bytes: UnsafeBufferPointer<UInt8>) {
        guard case .address(let value) = Self.parseIPv4(bytes) else { return nil }
        self.init(ipv4: value)
    }

    private enum IPv4Text {
        case address(UInt32)
        case invalid
        /// Holds a colon, and no NUL: IPv6 text for inet_pton to judge.
        case notIPv4
    }

    /// glibc's `inet_pton4`: exactly four parts, each 1-3 digits without a leading zero, at most 255.
    private static func parseIPv4(_ bytes: some Collection<UInt8>) -> IPv4Text {
        var value: UInt32 = 0
        var part: UInt32 = 0
        var digits = 0
        var parts = 0
        var valid = true
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                // A leading zero, or a fourth digit (over 255, or led by a zero): refused.
                if (digits > 0 && part == 0) || digits == 3 {
                    valid = false
                    continue
                }
                part = part * 10 + UInt32(byte - UInt8(ascii: "0"))
                digits += 1
                if part > 255 { valid = false }
            case UInt8(ascii: "."):
                if digits == 0 || parts == 3 { valid = false }
                value = value << 8 | (part & 0xFF)
                parts += 1
                part = 0
                digits = 0
            case UInt8(ascii: ":"):
                return bytes.contains(0) ? .invalid : .notIPv4
            case 0:
                return .invalid
            default:
                valid = false
            }
        }
        guard valid, parts == 3, digits > 0 else { return .invalid }
        return .address(value << 8 | part)
    }

    /// The address bytes in network order (4 or 16 of them).
    public var bytes: [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(family.addressLength)
        appendBytes(to: &bytes)
        return bytes
    }

    /// Appends the address bytes in network order to `buffer`, building no array of their own (a set's
    /// 100,000 nftables keys are written this way).
    public func appendBytes(to buffer: inout [UInt8]) {
        for index in 0..<family.addressLength {
            let word = index < 8 ? high : low
            buffer.append(UInt8(truncatingIfNeeded: word >> (56 - 8 * UInt64(index % 8))))
        }
    }

    /// The IPv4 value in host order, or nil for IPv6.
    public var ipv4Value: UInt32? { family == .inet ? UInt32(truncatingIfNeeded: high >> 32) : nil }

    /// Canonical text: dotted quad, or RFC 5952 IPv6 as `inet_ntop` prints it.
    public var description: String {
        var source = bytes
        var text = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN))
        let af = family == .inet ? AF_INET : AF_INET6
        guard inet_ntop(af, &source, &text, socklen_t(text.count)) != nil else { return "?" }
        return String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    public static func < (lhs: IPAddress, rhs: IPAddress) -> Bool {
        (lhs.family.rawValue, lhs.high, lhs.low) < (rhs.family.rawValue, rhs.high, rhs.low)
    }
}
