import IPVS
import YAMLSyntax

/// Cluster IPs the agent chose for Services that have none, keyed `namespace/name/IPv4`; persisted by the
/// agent and passed back in so an address stays with its Service across restarts.
public struct ClusterIPAllocations: Sendable, Hashable, Codable {
    /// Address text by `namespace/name/IPv4` or `namespace/name/IPv6`.
    public var addresses: [String: String]

    public init(addresses: [String: String] = [:]) { self.addresses = addresses }

    /// Encodes as the bare map, so the persisted file reads `{"production/backend-api/IPv4": "10.96.3.7"}`.
    public init(from decoder: any Decoder) throws {
        addresses = try decoder.singleValueContainer().decode([String: String].self)
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(addresses)
    }

    static func key(namespace: String, name: String, family: AddressFamily) -> String {
        "\(namespace)/\(name)/\(family == .inet ? "IPv4" : "IPv6")"
    }
}

/// Picks cluster IPs: keeps earlier choices that are still valid, then hashes each new key to a start
/// address and probes forward past taken ones, so results depend only on the inputs.
struct ClusterIPAllocator {
    var networks: [IPNetwork]
    /// Static cluster IPs of the inputs: never handed out.
    var taken: Set<IPAddress>

    /// Allocates an address for every key, reusing `previous` where possible; nil entries could not be had.
    mutating func allocate(
        keys: [(key: String, family: AddressFamily)],
        previous: ClusterIPAllocations
    )
        -> [String: IPAddress?]
    {
        var result: [String: IPAddress?] = [:]
        var pending: [(key: String, network: IPNetwork)] = []
        for (key, family) in keys.sorted(by: { $0.key < $1.key }) {
            guard let network = networks.first(where: { $0.family == family }) else {
                result[key] = .some(nil)
                continue
            }
            if let text = previous.addresses[key], let address = IPAddress(text), usable(address, in: network),
                !taken.contains(address)
            {
                taken.insert(address)
                result[key] = address
            } else {
                pending.append((key, network))
            }
        }
        for (key, network) in pending {
            let chosen = pick(for: key, in: network)
            if let chosen { taken.insert(chosen) }
            result[key] = .some(chosen)
        }
        return result
    }

    /// The first free, usable address at or after the key's hashed offset (wrapping around), or nil when
    /// there is none. Whole special ranges inside the network (`SpecialAddresses`) are stepped over at once,
    /// so a network such as 0.0.0.0/0 is no slower than any other.
    private func pick(for key: String, in network: IPNetwork) -> IPAddress? {
        // Offsets 1...size-2: never the network address (offset 0) nor the last one, IPv4's broadcast.
        guard network.size >= 4 else { return nil }
        let count = network.size - 2
        let start = Self.fnv1a(key) % count
        var probe: UInt64 = 0
        while probe < count {
            let candidate = network.address(at: 1 + (start &+ probe) % count)
            if let special = SpecialAddresses.network(containing: candidate)?.network {
                // Step to just past the special network, or give up when it covers the service network.
                guard special.prefixLength > network.prefixLength, let offset = special.offset(of: candidate) else {
                    return nil
                }
                let remaining = special.size - offset
                probe = probe.addingReportingOverflow(remaining).overflow ? count : probe + remaining
                continue
            }
            if !taken.contains(candidate) { return candidate }
            probe += 1
        }
        return nil
    }

    /// Inside the network, neither its network nor its last (IPv4 broadcast) address, and not special.
    private func usable(_ address: IPAddress, in network: IPNetwork) -> Bool {
        guard network.size >= 4, let offset = network.offset(of: address) else { return false }
        return offset != 0 && offset != network.size - 1 && SpecialAddresses.rule(for: address) == nil
    }

    /// FNV-1a: stable across processes, unlike `Hasher`.
    static func fnv1a(_ text: String) -> UInt64 {
        text.utf8.reduce(0xcbf2_9ce4_8422_2325) { ($0 ^ UInt64($1)) &* 0x100_0000_01b3 }
    }
}
