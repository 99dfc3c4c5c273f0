import IPVS

/// An IP network: an address and a prefix length, such as `10.96.0.0/12` or `fd00:10:96::/108`.
public struct IPNetwork: Sendable, Hashable, CustomStringConvertible {
    /// The network address (host bits cleared).
    public let address: IPAddress
    public let prefixLength: Int

    /// Parses `address/prefix`; host bits set in the address are cleared.
    public init?(_ text: String) {
        let parts = text.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, let address = IPAddress(parts[0]), let prefix = Int(parts[1]) else { return nil }
        self.init(address: address, prefixLength: prefix)
    }

    public init?(address: IPAddress, prefixLength: Int) {
        let bits = address.family == .inet ? 32 : 128
        guard (0...bits).contains(prefixLength) else { return nil }
        self.prefixLength = prefixLength
        let mask = Self.mask(prefixLength, bits: bits)
        self.address = Self.make(Self.and(Self.value(address), mask), family: address.family)
    }

    public var family: AddressFamily { address.family }
    public var description: String { "\(address)/\(prefixLength)" }

    /// Whether `other` lies in this network.
    public func contains(_ other: IPAddress) -> Bool {
        other.family == family
            && Self.and(Self.value(other), Self.mask(prefixLength, bits: hostBitsTotal)) == Self.value(address)
    }

    /// How many addresses the network has, capped at `UInt64.max` for huge IPv6 networks.
    public var size: UInt64 {
        let hostBits = hostBitsTotal - prefixLength
        return hostBits >= 64 ? .max : 1 << UInt64(hostBits)
    }

    /// The address `offset` past the network address (offset below `size`).
    public func address(at offset: UInt64) -> IPAddress {
        var value = Self.value(address)
        let (low, carry) = value.low.addingReportingOverflow(offset)
        value = (carry ? value.high &+ 1 : value.high, low)
        return Self.make(value, family: family)
    }

    /// The offset of `other` from the network address, if it lies in the first `size` addresses.
    public func offset(of other: IPAddress) -> UInt64? {
        guard contains(other) else { return nil }
        let difference = Self.value(other).low &- Self.value(address).low
        return difference < size ? difference : nil
    }

    private var hostBitsTotal: Int { family == .inet ? 32 : 128 }

    // Addresses as 128-bit (high, low) values; IPv4 uses the low 32 bits.
    private typealias U128 = (high: UInt64, low: UInt64)

    private static func value(_ address: IPAddress) -> U128 {
        let bytes = address.bytes
        if bytes.count == 4 { return (0, bytes.reduce(0) { $0 << 8 | UInt64($1) }) }
        return (bytes[0..<8].reduce(0) { $0 << 8 | UInt64($1) }, bytes[8..<16].reduce(0) { $0 << 8 | UInt64($1) })
    }

    private static func make(_ value: U128, family: AddressFamily) -> IPAddress {
        if family == .inet { return IPAddress(ipv4: UInt32(truncatingIfNeeded: value.low)) }
        let bytes =
            (0..<8).map { UInt8(truncatingIfNeeded: value.high >> (56 - 8 * UInt64($0))) }
            + (0..<8).map { UInt8(truncatingIfNeeded: value.low >> (56 - 8 * UInt64($0))) }
        return IPAddress(bytes: bytes)!
    }

    private static func and(_ a: U128, _ b: U128) -> U128 { (a.high & b.high, a.low & b.low) }

    private static func mask(_ prefix: Int, bits: Int) -> U128 {
        let hostBits = bits - prefix
        func ones(_ count: Int) -> UInt64 { count >= 64 ? .max : (1 << UInt64(count)) - 1 }
        let hostLow = ones(min(hostBits, 64))
        let hostHigh = hostBits > 64 ? ones(hostBits - 64) : 0
        if bits == 32 { return (0, ~hostLow & 0xFFFF_FFFF) }
        return (~hostHigh, ~hostLow)
    }
}
