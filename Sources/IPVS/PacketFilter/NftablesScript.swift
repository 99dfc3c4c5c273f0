/// The nftables commands for the agent's table: whole writes and element updates, each as transactions of
/// bounded size. The table, chains, rules and sets are nft's language, run by libnftables; set elements are
/// ``NftablesElementChange``s, sent as nftables' netlink messages.
///
/// Every word of the text comes from a typed value: addresses are printed by ``IPAddress``, protocols as
/// their numbers and ports as integers; names are constants here. No configuration string reaches it.
public enum NftablesScript {
    /// The table the agent owns (family `inet`: one table for IPv4 and IPv6). Nothing else is touched.
    public static let table = "ipvsd"
    /// The packet mark bit that asks the postrouting chain to masquerade, kube-proxy's default
    /// (--iptables-masquerade-bit=14), so a node moving from kube-proxy keeps its meaning.
    public static let masqueradeMark: UInt32 = 1 << 14

    /// Elements per transaction. A transaction is one netlink batch sent whole (at most 52 bytes an element:
    /// about 210 kB, the socket's default send buffer) and held by the kernel until it commits, so its
    /// memory, ours and the kernel's, does not grow with the cluster. (When elements went through
    /// libnftables, which holds about 1.4 kB an element until the transaction ends, one transaction of the
    /// 110k elements of 10k Services x 10 peaked at about 150 MB inside ipvsd.)
    public static let elementsPerTransaction = 4_096

    /// A whole write, as bounded transactions, never showing a packet a partly filled set: the new
    /// `generation`'s sets are created empty (`prepare`) and filled first (`fills`; the live rules still match
    /// the old generation's full sets), then one small transaction (`activate`) points the rules at them and
    /// deletes the `stale` generations' sets (the old generation, a crashed write's leftovers, the unnumbered
    /// sets of earlier releases: generation 0).
    public struct WholeWrite: Sendable, Equatable {
        /// nft's language: the table, the chains, the generation's sets emptied.
        public var prepare: String
        /// Set elements, one transaction each.
        public var fills: [[NftablesElementChange]]
        /// nft's language: the rules rewritten for the generation, the stale sets deleted.
        public var activate: String
    }

    public static func write(
        _ rules: MasqueradeRules,
        generation: UInt64,
        stale: [UInt64],
        elementsPerTransaction: Int = elementsPerTransaction
    ) -> WholeWrite {
        var fills: [NftablesElementChange] = []
        for family in Family.all {
            fills += elements(
                .add,
                hairpin: rules.hairpin,
                masqueraded: rules.masqueraded,
                family: family,
                generation: generation
            )
        }
        return WholeWrite(
            prepare: prepare(generation),
            fills: packed(fills, limit: elementsPerTransaction),
            activate: activate(generation, deleting: stale)
        )
    }

    /// Creates the table and chains when missing, and the generation's sets, emptied (a number is never
    /// reused, but an emptied set is what the fill needs whatever was there).
    static func prepare(_ generation: UInt64) -> String {
        var lines = ["add table inet \(table)"]
        for family in Family.all {
            lines.append("add set inet \(table) \(family.hairpinSet(generation)) { type \(family.hairpinType) ; }")
            lines.append(
                "add set inet \(table) \(family.masqueradeSet(generation)) { type \(family.destinationType) ; }"
            )
            lines.append("flush set inet \(table) \(family.hairpinSet(generation))")
            lines.append("flush set inet \(table) \(family.masqueradeSet(generation))")
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
        return lines.joined(separator: "\n") + "\n"
    }

    /// Rewrites the chains' rules to match the generation's sets and deletes the `stale` generations' sets,
    /// in one transaction: a packet sees the old rules with the old sets or the new rules with the new ones.
    static func activate(_ generation: UInt64, deleting stale: [UInt64]) -> String {
        let mark = "0x" + String(masqueradeMark, radix: 16)
        let unmark = "0x" + String(~masqueradeMark, radix: 16)
        var lines = chains.map { "flush chain inet \(table) \($0)" }
        for family in Family.all {
            for chain in ["prerouting", "output"] {
                lines.append(
                    "add rule inet \(table) \(chain) \(family.keyword) daddr . meta l4proto . th dport "
                        + "@\(family.masqueradeSet(generation)) meta mark set meta mark | \(mark)"
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
                    + "meta l4proto . th dport @\(family.hairpinSet(generation)) masquerade"
            )
        }
        // Unreferenced now that the chains were flushed and refilled above, so they can go. Adding each first
        // makes the delete succeed whether or not that set exists (same idiom as `remove`).
        for old in stale where old != generation {
            for family in Family.all {
                for (name, type) in [
                    (family.hairpinSet(old), family.hairpinType), (family.masqueradeSet(old), family.destinationType),
                ] {
                    lines.append("add set inet \(table) \(name) { type \(type) ; }")
                    lines.append("delete set inet \(table) \(name)")
                }
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Deletes `removing`'s elements from the sets of `generation` and adds `adding`'s, leaving chains and
    /// rules as they are: an endpoint change costs its own elements, not a rewrite of every set. A set that
    /// lacks an element to delete fails the transaction (the table drifted), and the caller writes the
    /// table whole. A large change is split into bounded transactions like a whole write; each
    /// intermediate state is some of the changes applied, as if they had arrived in separate syncs. Empty
    /// when nothing changed.
    public static func update(
        removing: MasqueradeRules,
        adding: MasqueradeRules,
        generation: UInt64,
        elementsPerTransaction: Int = elementsPerTransaction
    ) -> [[NftablesElementChange]] {
        var changes: [NftablesElementChange] = []
        for family in Family.all {
            // Deletes first; within one transaction the order only matters for readability.
            for (verb, rules) in [(NftablesElementChange.Verb.delete, removing), (.add, adding)] {
                changes += elements(
                    verb,
                    hairpin: rules.hairpin,
                    masqueraded: rules.masqueraded,
                    family: family,
                    generation: generation
                )
            }
        }
        return packed(changes, limit: elementsPerTransaction)
    }

    /// The changes, in order, in as few transactions as keep each within `limit` elements; a change is cut
    /// where a transaction fills. An endpoint change (one delete and one add) is one transaction.
    private static func packed(_ changes: [NftablesElementChange], limit: Int) -> [[NftablesElementChange]] {
        let limit = max(limit, 1)
        var transactions: [[NftablesElementChange]] = []
        var current: [NftablesElementChange] = []
        var room = limit
        for change in changes {
            var rest = change.elements[...]
            while !rest.isEmpty {
                if room == 0 {
                    transactions.append(current)
                    current = []
                    room = limit
                }
                var piece = change
                piece.elements = Array(rest.prefix(room))
                current.append(piece)
                room -= piece.elements.count
                rest = rest.dropFirst(piece.elements.count)
            }
        }
        if !current.isEmpty { transactions.append(current) }
        return transactions
    }

    /// The changes to `family`'s members of both sets of `generation` (none for an empty set).
    private static func elements(
        _ verb: NftablesElementChange.Verb,
        hairpin: Set<MasqueradeRules.Destination>,
        masqueraded: Set<MasqueradeRules.Destination>,
        family: Family,
        generation: UInt64
    ) -> [NftablesElementChange] {
        [
            (family.hairpinSet(generation), hairpin, NftablesElementChange.Layout.hairpin),
            (family.masqueradeSet(generation), masqueraded, .destination),
        ].compactMap { set, members, layout in
            let chosen = members.filter { $0.address.family == family.addressFamily }.sorted()
            return chosen.isEmpty ? nil : NftablesElementChange(verb: verb, set: set, layout: layout, elements: chosen)
        }
    }

    /// Lists the sets of every inet table by name (with terse output: no elements, so no element is
    /// fetched either; listing a chain instead fetches every set's elements, 140 MB at 110k).
    public static let listSets = "list sets inet"

    /// Lists the chains of every inet table by name, without their rules (terse, and no set element is
    /// fetched: listing the rules would fetch every element their sets hold).
    public static let listChains = "list chains inet"

    /// The chains every write creates.
    static let chains = ["prerouting", "output", "postrouting"]

    /// The sets a write of `generation` creates.
    static func sets(of generation: UInt64) -> [String] {
        Family.all.flatMap { [$0.hairpinSet(generation), $0.masqueradeSet(generation)] }
    }

    /// The sets of the agent's table in a terse `list sets` listing, by name.
    public static func agentSets(inListing listing: String) -> [String] {
        agentObjects("set", inListing: listing)
    }

    /// The chains of the agent's table in a terse `list chains` listing, by name.
    public static func agentChains(inListing listing: String) -> [String] {
        agentObjects("chain", inListing: listing)
    }

    /// The objects of one kind (`set`, `chain`) of the agent's table in a terse listing, by name.
    private static func agentObjects(_ kind: Substring, inListing listing: String) -> [String] {
        var names: [String] = []
        var inAgentTable = false
        for line in listing.split(separator: "\n") {
            let words = line.split(whereSeparator: \.isWhitespace)
            guard words.count >= 2 else { continue }
            if words[0] == "table" {
                inAgentTable = words.count >= 3 && words[1] == "inet" && words[2] == Substring(table)
            } else if words[0] == kind, inAgentTable {
                names.append(String(words[1]))
            }
        }
        return names
    }

    /// Generations the agent numbers stay below this, so the next one never overflows even when someone
    /// added a set with a huge number to the table (such a set is not treated as ours).
    static let generationLimit: UInt64 = 1 << 62

    /// The generation a set name belongs to: `_g<n>` at its end, 0 for the unnumbered names of earlier
    /// releases (which wrote the table whole in one transaction); nil for a name that is not one of ours.
    public static func generation(ofSet name: String) -> UInt64? {
        for family in Family.all {
            for base in [family.hairpinSet(0), family.masqueradeSet(0)] {
                if name == base { return 0 }
                let prefix = base + "_g"
                if name.hasPrefix(prefix), let number = UInt64(name.dropFirst(prefix.count)),
                    number > 0, number < generationLimit
                {
                    return number
                }
            }
        }
        return nil
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
        /// Generation 0 is the unnumbered name earlier releases used.
        func hairpinSet(_ generation: UInt64) -> String {
            generation == 0 ? "hairpin_\(suffix)" : "hairpin_\(suffix)_g\(generation)"
        }
        func masqueradeSet(_ generation: UInt64) -> String {
            generation == 0 ? "masquerade_\(suffix)" : "masquerade_\(suffix)_g\(generation)"
        }
        var hairpinType: String { "\(addressType) . \(addressType) . inet_proto . inet_service" }
        var destinationType: String { "\(addressType) . inet_proto . inet_service" }
    }
}
