/// The nftables commands that replace the agent's table content in one transaction.
///
/// Every word of the text comes from a typed value: addresses are printed by ``IPAddress``, protocols as
/// their numbers and ports as integers; names are constants here. No configuration string reaches it.
public enum NftablesScript {
    /// The table the agent owns (family `inet`: one table for IPv4 and IPv6). Nothing else is touched.
    public static let table = "ipvsd"
    /// The packet mark bit that asks the postrouting chain to masquerade, kube-proxy's default
    /// (--iptables-masquerade-bit=14), so a node moving from kube-proxy keeps its meaning.
    public static let masqueradeMark: UInt32 = 1 << 14

    /// Creates what is missing, then flushes and refills every chain and set, all in one transaction: a
    /// packet sees either the previous rules or the new ones.
    public static func sync(_ rules: MasqueradeRules) -> String {
        let mark = "0x" + String(masqueradeMark, radix: 16)
        let unmark = "0x" + String(~masqueradeMark, radix: 16)
        var lines = ["add table inet \(table)"]
        for family in Family.all {
            lines.append("add set inet \(table) \(family.hairpinSet) { type \(family.hairpinType) ; }")
            lines.append("add set inet \(table) \(family.masqueradeSet) { type \(family.destinationType) ; }")
        }
        // Marked before IPVS sees the packet (IPVS runs at LOCAL_IN and LOCAL_OUT, after mangle), masqueraded
        // after IPVS forwarded it: the destination is then the backend, so the mark carries the decision.
        lines.append(
            "add chain inet \(table) prerouting { type filter hook prerouting priority mangle ; policy accept ; }"
        )
        lines.append("add chain inet \(table) output { type filter hook output priority mangle ; policy accept ; }")
        lines.append(
            "add chain inet \(table) postrouting { type nat hook postrouting priority srcnat ; policy accept ; }"
        )
        for chain in ["prerouting", "output", "postrouting"] { lines.append("flush chain inet \(table) \(chain)") }
        for family in Family.all {
            for chain in ["prerouting", "output"] {
                lines.append(
                    "add rule inet \(table) \(chain) \(family.keyword) daddr . meta l4proto . th dport "
                        + "@\(family.masqueradeSet) meta mark set meta mark | \(mark)"
                )
            }
        }
        lines.append(
            "add rule inet \(table) postrouting meta mark & \(mark) == \(mark) "
                + "meta mark set meta mark & \(unmark) masquerade"
        )
        for family in Family.all {
            lines.append(
                "add rule inet \(table) postrouting \(family.keyword) saddr . \(family.keyword) daddr . "
                    + "meta l4proto . th dport @\(family.hairpinSet) masquerade"
            )
        }
        for family in Family.all {
            lines.append("flush set inet \(table) \(family.hairpinSet)")
            lines.append("flush set inet \(table) \(family.masqueradeSet)")
            lines += elements("add", family.hairpinSet, rules.hairpin, family, hairpinElement)
            lines += elements("add", family.masqueradeSet, rules.masqueraded, family, masqueradeElement)
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Changes the sets' elements from `old` to `new` in one transaction, leaving chains and rules as they
    /// are: an endpoint change costs its own elements, not a rewrite of every set (110k hairpin elements at
    /// 10k Services x 10, parsed by libnftables on every change). Valid only while the table holds exactly
    /// `old`: otherwise the transaction fails (deleting an element that is not there), and the caller writes
    /// the table whole. Empty when nothing changed.
    public static func update(from old: MasqueradeRules, to new: MasqueradeRules) -> String {
        var lines: [String] = []
        for family in Family.all {
            // Deletes first; within one transaction the order only matters for readability.
            for (verb, from, to) in [("delete", old, new), ("add", new, old)] {
                lines += elements(verb, family.hairpinSet, from.hairpin.subtracting(to.hairpin), family, hairpinElement)
                lines += elements(
                    verb,
                    family.masqueradeSet,
                    from.masqueraded.subtracting(to.masqueraded),
                    family,
                    masqueradeElement
                )
            }
        }
        return lines.isEmpty ? "" : lines.joined(separator: "\n") + "\n"
    }

    /// One `add element` or `delete element` command for `family`'s members of `members`, sorted; none when
    /// it has none.
    private static func elements(
        _ verb: String,
        _ set: String,
        _ members: Set<MasqueradeRules.Destination>,
        _ family: Family,
        _ text: (MasqueradeRules.Destination) -> String
    ) -> [String] {
        let chosen = members.filter { $0.address.family == family.addressFamily }.sorted()
        guard !chosen.isEmpty else { return [] }
        return ["\(verb) element inet \(table) \(set) { \(chosen.map(text).joined(separator: ", ")) }"]
    }

    /// A hairpin element: an endpoint talking to itself through a virtual server (source . destination).
    private static func hairpinElement(_ destination: MasqueradeRules.Destination) -> String {
        "\(destination.address) . \(destination.address) . \(destination.proto.rawValue) . \(destination.port)"
    }

    private static func masqueradeElement(_ destination: MasqueradeRules.Destination) -> String {
        "\(destination.address) . \(destination.proto.rawValue) . \(destination.port)"
    }

    /// Deletes the agent's table if it exists (adding it first makes the delete succeed when it does not,
    /// within one transaction; `destroy` needs nftables 1.0.8).
    public static var remove: String { "add table inet \(table)\ndelete table inet \(table)\n" }

    private struct Family {
        var addressFamily: AddressFamily
        var keyword: String
        var addressType: String

        static let all = [
            Family(addressFamily: .inet, keyword: "ip", addressType: "ipv4_addr"),
            Family(addressFamily: .inet6, keyword: "ip6", addressType: "ipv6_addr"),
        ]

        var suffix: String { addressFamily == .inet ? "v4" : "v6" }
        var hairpinSet: String { "hairpin_\(suffix)" }
        var masqueradeSet: String { "masquerade_\(suffix)" }
        var hairpinType: String { "\(addressType) . \(addressType) . inet_proto . inet_service" }
        var destinationType: String { "\(addressType) . inet_proto . inet_service" }
    }
}
