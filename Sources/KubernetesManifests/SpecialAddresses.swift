import IPVS
import YAMLSyntax

/// Addresses no Service IP or endpoint may be, the rules Kubernetes applies to them (`ValidateNonSpecialIP`,
/// `ValidateEndpointIP` in k8s.io/kubernetes pkg/apis/core/validation), with all of multicast and the IPv4
/// broadcast address added: the kernel refuses those as real servers, and a loopback VIP on the dummy
/// interface would capture the host's own services (the agent's metrics port included).
enum SpecialAddresses {
    struct Rule {
        var networks: [IPNetwork]
        /// Completes "may not be ...".
        var description: String
    }

    static let rules: [Rule] = [
        Rule(networks: networks("0.0.0.0/32", "::/128"), description: "unspecified (0.0.0.0, ::)"),
        Rule(networks: networks("127.0.0.0/8", "::1/128"), description: "in the loopback range (127.0.0.0/8, ::1/128)"),
        Rule(
            networks: networks("169.254.0.0/16", "fe80::/10"),
            description: "in the link-local range (169.254.0.0/16, fe80::/10)"
        ),
        Rule(
            networks: networks("224.0.0.0/4", "ff00::/8"),
            description: "in the multicast range (224.0.0.0/4, ff00::/8)"
        ),
        Rule(networks: networks("255.255.255.255/32"), description: "the broadcast address 255.255.255.255"),
    ]

    /// Every special network, IPv4-mapped IPv6 forms (`::ffff:127.0.0.1`) included, as Go's `net.IP`
    /// methods treat a mapped address like its IPv4 form.
    static let networks: [(network: IPNetwork, rule: Rule)] = rules.flatMap { rule in
        rule.networks.flatMap { network -> [(network: IPNetwork, rule: Rule)] in
            guard network.family == .inet, let mapped = mapped(network) else { return [(network, rule)] }
            return [(network, rule), (mapped, rule)]
        }
    }

    /// The rule `address` breaks, if any. Computed on the address bits: it runs for every endpoint address.
    static func rule(for address: IPAddress) -> Rule? {
        var ipv4 = address.ipv4Value
        if ipv4 == nil {
            let bytes = address.bytes
            let mapped = bytes.prefix(10).allSatisfy { $0 == 0 } && bytes[10] == 0xFF && bytes[11] == 0xFF
            if !mapped {
                if bytes.prefix(15).allSatisfy({ $0 == 0 }) {
                    if bytes[15] == 0 { return rules[0] }
                    if bytes[15] == 1 { return rules[1] }
                }
                if bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80 { return rules[2] }
                if bytes[0] == 0xFF { return rules[3] }
                return nil
            }
            ipv4 = bytes.suffix(4).reduce(0) { $0 << 8 | UInt32($1) }
        }
        guard let value = ipv4 else { return nil }
        switch value {
        case 0: return rules[0]
        case _ where value >> 24 == 127: return rules[1]
        case _ where value >> 16 == 0xA9FE: return rules[2]
        case _ where value >> 28 == 0xE: return rules[3]
        case 0xFFFF_FFFF: return rules[4]
        default: return nil
        }
    }

    /// The special network holding `address`, if any.
    static func network(containing address: IPAddress) -> (network: IPNetwork, rule: Rule)? {
        networks.first { $0.network.contains(address) }
    }

    private static func networks(_ texts: String...) -> [IPNetwork] { texts.compactMap(IPNetwork.init) }

    private static func mapped(_ network: IPNetwork) -> IPNetwork? {
        guard let address = IPAddress(bytes: [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF] + network.address.bytes)
        else { return nil }
        return IPNetwork(address: address, prefixLength: 96 + network.prefixLength)
    }
}

extension LocatedYAML {
    /// The node as an IP address that is not special (`SpecialAddresses`).
    /// - Throws: a located error naming the address and the rule it breaks.
    func asServiceAddress(_ family: AddressFamily? = nil) throws(LocatedError) -> IPAddress {
        let address = try asIPAddress(family)
        try checkNotSpecial(address)
        return address
    }

    /// Fails when `address`, read from this node, is special.
    func checkNotSpecial(_ address: IPAddress) throws(LocatedError) {
        if let rule = SpecialAddresses.rule(for: address) {
            throw error("\(address) may not be \(rule.description)")
        }
    }
}
