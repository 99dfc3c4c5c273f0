/// Elements to add to or delete from one of the agent's sets, and their keys as the kernel stores them.
///
/// Set elements do not go through libnftables' language: a whole write at 10k Services x 10 is 100,000 of
/// them, and libnftables parses and evaluates each from text (about 90 µs an element under emulation, the
/// first sync's critical path). They go to the kernel as nftables' own netlink messages instead
/// (`Nftables.send`), keyed exactly as nft keys them; the table, chains, rules and sets stay in nft's
/// language (``NftablesScript``).
public struct NftablesElementChange: Sendable, Hashable, CustomStringConvertible {
    public enum Verb: String, Sendable {
        case add, delete
    }

    /// How a set's key is laid out; each field padded to 4 bytes, as nft lays out a concatenation.
    public enum Layout: Sendable {
        /// `address . address . inet_proto . inet_service` (hairpin: source and destination are the endpoint).
        case hairpin
        /// `address . inet_proto . inet_service`.
        case destination
    }

    public var verb: Verb
    public var set: String
    public var layout: Layout
    /// One address family, sorted, so a split into transactions is the same every time.
    public var elements: [MasqueradeRules.Destination]

    public init(verb: Verb, set: String, layout: Layout, elements: [MasqueradeRules.Destination]) {
        self.verb = verb
        self.set = set
        self.layout = layout
        self.elements = elements
    }

    /// The command nft would run for this change (`add element inet ipvsd hairpin_v4_g3 { ... }`): for logs,
    /// tests, and `nft -f` by hand.
    public var description: String {
        "\(verb.rawValue) element inet \(NftablesScript.table) \(set) { "
            + elements.map { Self.text(of: $0, layout) }.joined(separator: ", ") + " }"
    }

    private static func text(of destination: MasqueradeRules.Destination, _ layout: Layout) -> String {
        let address = "\(destination.address)"
        let tail = "\(address) . \(destination.proto.rawValue) . \(destination.port)"
        return layout == .hairpin ? "\(address) . \(tail)" : tail
    }

    /// Bytes of one element's key: 16 (IPv4) or 40 (IPv6) for a hairpin set, 12 or 24 for a destination set.
    public var keyLength: Int {
        let address = elements.first?.address.family.addressLength ?? 4
        return (layout == .hairpin ? 2 * address : address) + 8
    }

    /// Every element's key, back to back, in order. Addresses in network order; the protocol number in the
    /// first byte of its 4; the port big-endian in the first 2 of its 4 (`nft --debug=netlink` prints the
    /// same bytes for `10.0.0.1 . 10.0.0.1 . 6 . 80`: 0a000001 0a000001 06000000 00500000).
    public var keys: [UInt8] {
        var keys: [UInt8] = []
        keys.reserveCapacity(elements.count * keyLength)
        for destination in elements {
            if layout == .hairpin { destination.address.appendBytes(to: &keys) }
            destination.address.appendBytes(to: &keys)
            keys += [UInt8(truncatingIfNeeded: destination.proto.rawValue), 0, 0, 0]
            keys += [
                UInt8(truncatingIfNeeded: destination.port >> 8), UInt8(truncatingIfNeeded: destination.port), 0, 0,
            ]
        }
        return keys
    }
}
