import IPVS
import Testing

/// The exact text libnftables receives and the element changes sent beside it: bounded transactions that fill a
/// new generation of sets, then switch the rules to it in one small transaction; element updates against the
/// live generation. Each element transaction is shown as the nft commands it stands for.
@Suite struct NftablesScriptTests {
    let kept = MasqueradeRules.Destination(address: IPAddress("10.244.1.2")!, proto: .tcp, port: 8080)
    let gone = MasqueradeRules.Destination(address: IPAddress("10.244.0.9")!, proto: .udp, port: 53)
    let new = MasqueradeRules.Destination(address: IPAddress("fd00::5")!, proto: .sctp, port: 3868)
    let vip = MasqueradeRules.Destination(address: IPAddress("192.0.2.10")!, proto: .tcp, port: 80)

    /// Each transaction as nft text, one command a line.
    func text(_ transactions: [[NftablesElementChange]]) -> [String] {
        transactions.map { $0.map { "\($0)\n" }.joined() }
    }

    @Test func updateScriptChangesOnlyTheElementsThatDiffer() {
        #expect(NftablesScript.update(removing: MasqueradeRules(), adding: MasqueradeRules(), generation: 3) == [])
        #expect(
            text(
                NftablesScript.update(
                    removing: MasqueradeRules(hairpin: [gone], masqueraded: [vip]),
                    adding: MasqueradeRules(hairpin: [new]),
                    generation: 3
                )
            ) == [
                """
                delete element inet ipvsd hairpin_v4_g3 { 10.244.0.9 . 10.244.0.9 . 17 . 53 }
                delete element inet ipvsd masquerade_v4_g3 { 192.0.2.10 . 6 . 80 }
                add element inet ipvsd hairpin_v6_g3 { fd00::5 . fd00::5 . 132 . 3868 }

                """
            ]
        )
        // Generation 0 is the unnumbered sets of earlier releases.
        #expect(
            text(
                NftablesScript.update(
                    removing: MasqueradeRules(hairpin: [gone]),
                    adding: MasqueradeRules(),
                    generation: 0
                )
            ) == ["delete element inet ipvsd hairpin_v4 { 10.244.0.9 . 10.244.0.9 . 17 . 53 }\n"]
        )
    }

    @Test func largeChangesAreSplitIntoBoundedTransactions() {
        let many = Set(
            (0..<10).map {
                MasqueradeRules.Destination(address: IPAddress(ipv4: 0x0AF4_0000 + $0), proto: .tcp, port: 80)
            }
        )
        let added = text(
            NftablesScript.update(
                removing: MasqueradeRules(),
                adding: MasqueradeRules(hairpin: many),
                generation: 1,
                elementsPerTransaction: 4
            )
        )
        #expect(added.count == 3)
        #expect(added.map { $0.components(separatedBy: " . 6 . 80").count - 1 } == [4, 4, 2])
        // Commands of several sets share a transaction up to the bound: 10 deletes and 10 adds in 4s.
        let moved = Set(many.map { MasqueradeRules.Destination(address: $0.address, proto: .tcp, port: 81) })
        let swapped = text(
            NftablesScript.update(
                removing: MasqueradeRules(hairpin: many),
                adding: MasqueradeRules(hairpin: moved),
                generation: 1,
                elementsPerTransaction: 4
            )
        )
        #expect(swapped.map { $0.components(separatedBy: " . 6 . 8").count - 1 } == [4, 4, 4, 4, 4])
        #expect(swapped[2].hasPrefix("delete element") && swapped[2].contains("\nadd element"))
        #expect(added.allSatisfy { $0.hasPrefix("add element inet ipvsd hairpin_v4_g1 { ") })
        // Sorted, so the split is the same every time.
        #expect(added[0].hasPrefix("add element inet ipvsd hairpin_v4_g1 { 10.244.0.0 . 10.244.0.0 . 6 . 80, "))
    }

    @Test func aWholeWriteFillsANewGenerationThenSwitchesInOneTransaction() {
        let rules = MasqueradeRules(hairpin: [kept, gone, new], masqueraded: [vip])
        let write = NftablesScript.write(rules, generation: 4, stale: [0, 3, 4], elementsPerTransaction: 1)
        #expect(write.fills.count == 4)
        #expect(
            write.prepare == """
                add table inet ipvsd
                add set inet ipvsd hairpin_v4_g4 { type ipv4_addr . ipv4_addr . inet_proto . inet_service ; }
                add set inet ipvsd masquerade_v4_g4 { type ipv4_addr . inet_proto . inet_service ; }
                flush set inet ipvsd hairpin_v4_g4
                flush set inet ipvsd masquerade_v4_g4
                add set inet ipvsd hairpin_v6_g4 { type ipv6_addr . ipv6_addr . inet_proto . inet_service ; }
                add set inet ipvsd masquerade_v6_g4 { type ipv6_addr . inet_proto . inet_service ; }
                flush set inet ipvsd hairpin_v6_g4
                flush set inet ipvsd masquerade_v6_g4
                add chain inet ipvsd prerouting { type filter hook prerouting priority mangle ; policy accept ; }
                add chain inet ipvsd output { type filter hook output priority mangle ; policy accept ; }
                add chain inet ipvsd postrouting { type nat hook postrouting priority srcnat ; policy accept ; }

                """
        )
        #expect(
            text(write.fills) == [
                "add element inet ipvsd hairpin_v4_g4 { 10.244.0.9 . 10.244.0.9 . 17 . 53 }\n",
                "add element inet ipvsd hairpin_v4_g4 { 10.244.1.2 . 10.244.1.2 . 6 . 8080 }\n",
                "add element inet ipvsd masquerade_v4_g4 { 192.0.2.10 . 6 . 80 }\n",
                "add element inet ipvsd hairpin_v6_g4 { fd00::5 . fd00::5 . 132 . 3868 }\n",
            ]
        )
        // The switch: rules rewritten for generation 4, then every stale generation's sets deleted (never the
        // new one's), each added first so the delete succeeds whether or not it exists.
        #expect(
            write.activate == """
                flush chain inet ipvsd prerouting
                flush chain inet ipvsd output
                flush chain inet ipvsd postrouting
                add rule inet ipvsd prerouting ip daddr . meta l4proto . th dport @masquerade_v4_g4 meta mark set meta mark | 0x4000
                add rule inet ipvsd output ip daddr . meta l4proto . th dport @masquerade_v4_g4 meta mark set meta mark | 0x4000
                add rule inet ipvsd prerouting ip6 daddr . meta l4proto . th dport @masquerade_v6_g4 meta mark set meta mark | 0x4000
                add rule inet ipvsd output ip6 daddr . meta l4proto . th dport @masquerade_v6_g4 meta mark set meta mark | 0x4000
                add rule inet ipvsd postrouting meta mark & 0x4000 == 0x4000 meta mark set meta mark & 0xffffbfff masquerade
                add rule inet ipvsd postrouting ip saddr . ip daddr . meta l4proto . th dport @hairpin_v4_g4 masquerade
                add rule inet ipvsd postrouting ip6 saddr . ip6 daddr . meta l4proto . th dport @hairpin_v6_g4 masquerade
                add set inet ipvsd hairpin_v4 { type ipv4_addr . ipv4_addr . inet_proto . inet_service ; }
                delete set inet ipvsd hairpin_v4
                add set inet ipvsd masquerade_v4 { type ipv4_addr . inet_proto . inet_service ; }
                delete set inet ipvsd masquerade_v4
                add set inet ipvsd hairpin_v6 { type ipv6_addr . ipv6_addr . inet_proto . inet_service ; }
                delete set inet ipvsd hairpin_v6
                add set inet ipvsd masquerade_v6 { type ipv6_addr . inet_proto . inet_service ; }
                delete set inet ipvsd masquerade_v6
                add set inet ipvsd hairpin_v4_g3 { type ipv4_addr . ipv4_addr . inet_proto . inet_service ; }
                delete set inet ipvsd hairpin_v4_g3
                add set inet ipvsd masquerade_v4_g3 { type ipv4_addr . inet_proto . inet_service ; }
                delete set inet ipvsd masquerade_v4_g3
                add set inet ipvsd hairpin_v6_g3 { type ipv6_addr . ipv6_addr . inet_proto . inet_service ; }
                delete set inet ipvsd hairpin_v6_g3
                add set inet ipvsd masquerade_v6_g3 { type ipv6_addr . inet_proto . inet_service ; }
                delete set inet ipvsd masquerade_v6_g3

                """
        )
    }

    /// The bytes `nft --debug=netlink add element` sends for the same elements (nft 1.0.6, printed there as
    /// little-endian words: `0100000a 0100000a 00000006 00005000` is 0a000001 0a000001 06000000 00500000).
    @Test func elementKeysAreLaidOutAsNftLaysOutAConcatenation() {
        let v4 = MasqueradeRules.Destination(address: IPAddress("10.0.0.1")!, proto: .tcp, port: 80)
        let hairpin = NftablesElementChange(verb: .add, set: "hairpin_v4_g1", layout: .hairpin, elements: [v4])
        #expect(hairpin.keyLength == 16)
        #expect(hairpin.keys == [10, 0, 0, 1, 10, 0, 0, 1, 6, 0, 0, 0, 0, 80, 0, 0])
        let v6 = MasqueradeRules.Destination(address: IPAddress("fd00::1")!, proto: .udp, port: 53)
        let hairpin6 = NftablesElementChange(verb: .add, set: "hairpin_v6_g1", layout: .hairpin, elements: [v6])
        let address6: [UInt8] = [0xfd] + Array(repeating: 0, count: 14) + [1]
        #expect(hairpin6.keyLength == 40)
        #expect(hairpin6.keys == address6 + address6 + [17, 0, 0, 0, 0, 53, 0, 0])
        let https = MasqueradeRules.Destination(address: IPAddress("10.0.0.1")!, proto: .tcp, port: 443)
        let destinations = NftablesElementChange(
            verb: .delete,
            set: "masquerade_v4_g1",
            layout: .destination,
            elements: [https, v4]
        )
        #expect(destinations.keyLength == 12)
        #expect(destinations.keys == [10, 0, 0, 1, 6, 0, 0, 0, 1, 187, 0, 0, 10, 0, 0, 1, 6, 0, 0, 0, 0, 80, 0, 0])
        #expect(
            destinations.description
                == "delete element inet ipvsd masquerade_v4_g1 { 10.0.0.1 . 6 . 443, 10.0.0.1 . 6 . 80 }"
        )
    }

    @Test func theListingNamesOnlyTheAgentsSetsAndTheirGenerations() {
        let listing = """
            table inet other {
            \tset hairpin_v4_g9 {
            \t\ttype ipv4_addr
            \t}
            }
            table inet ipvsd {
            \tset hairpin_v4 {
            \t\ttype ipv4_addr . ipv4_addr . inet_proto . inet_service
            \t}
            \tset masquerade_v6_g12 {
            \t\ttype ipv6_addr . inet_proto . inet_service
            \t}
            \tset somebody_elses {
            \t}
            }
            """
        let names = NftablesScript.agentSets(inListing: listing)
        #expect(names == ["hairpin_v4", "masquerade_v6_g12", "somebody_elses"])
        #expect(names.map(NftablesScript.generation(ofSet:)) == [0, 12, nil])
        #expect(NftablesScript.generation(ofSet: "hairpin_v4_g0") == nil)
        #expect(NftablesScript.generation(ofSet: "hairpin_v4_gx") == nil)
        #expect(NftablesScript.generation(ofSet: "hairpin_v5_g2") == nil)
        // A number the next write could not exceed is not ours: no overflow, whatever the table holds.
        #expect(NftablesScript.generation(ofSet: "hairpin_v4_g\(UInt64.max)") == nil)
        #expect(NftablesScript.generation(ofSet: "hairpin_v4_g\((1 as UInt64) << 62)") == nil)
        #expect(NftablesScript.generation(ofSet: "hairpin_v4_g\((1 as UInt64) << 62 - 1)") == (1 << 62) - 1)
        #expect(NftablesScript.agentSets(inListing: "") == [])
    }

    /// A terse `list chains inet`: the agent's chains by name, not another table's.
    @Test func theChainListingNamesOnlyTheAgentsChains() {
        let listing = """
            table inet filter {
            \tchain prerouting {
            \t\ttype filter hook prerouting priority mangle; policy accept;
            \t}
            }
            table inet ipvsd {
            \tchain output {
            \t\ttype filter hook output priority mangle; policy accept;
            \t}
            \tchain postrouting {
            \t\ttype nat hook postrouting priority srcnat; policy accept;
            \t}
            }
            """
        #expect(NftablesScript.agentChains(inListing: listing) == ["output", "postrouting"])
        #expect(NftablesScript.agentSets(inListing: listing) == [])
    }

    @Test func removeDeletesOnlyTheAgentsTableAndSucceedsWhenItIsAbsent() {
        #expect(NftablesScript.remove == "add table inet ipvsd\ndelete table inet ipvsd\n")
    }
}
