import IPVS
import Testing

/// The exact text libnftables receives: one transaction that creates what is missing and refills the rest.
@Suite struct NftablesScriptTests {
    @Test func updateScriptChangesOnlyTheElementsThatDiffer() {
        let kept = MasqueradeRules.Destination(address: IPAddress("10.244.1.2")!, proto: .tcp, port: 8080)
        let gone = MasqueradeRules.Destination(address: IPAddress("10.244.0.9")!, proto: .udp, port: 53)
        let new = MasqueradeRules.Destination(address: IPAddress("fd00::5")!, proto: .sctp, port: 3868)
        let vip = MasqueradeRules.Destination(address: IPAddress("192.0.2.10")!, proto: .tcp, port: 80)
        let old = MasqueradeRules(hairpin: [kept, gone], masqueraded: [vip])
        #expect(NftablesScript.update(from: old, to: old) == "")
        #expect(
            NftablesScript.update(from: old, to: MasqueradeRules(hairpin: [kept, new])) == """
                delete element inet ipvsd hairpin_v4 { 10.244.0.9 . 10.244.0.9 . 17 . 53 }
                delete element inet ipvsd masquerade_v4 { 192.0.2.10 . 6 . 80 }
                add element inet ipvsd hairpin_v6 { fd00::5 . fd00::5 . 132 . 3868 }

                """
        )
    }

    @Test func syncScriptIsOneTransactionBuiltFromTypedValues() {
        let rules = MasqueradeRules(
            hairpin: [
                .init(address: IPAddress("10.244.1.2")!, proto: .tcp, port: 8080),
                .init(address: IPAddress("10.244.0.9")!, proto: .udp, port: 53),
                .init(address: IPAddress("fd00::5")!, proto: .sctp, port: 3868),
            ],
            masqueraded: [.init(address: IPAddress("192.0.2.10")!, proto: .tcp, port: 80)]
        )
        #expect(
            NftablesScript.sync(rules) == """
                add table inet ipvsd
                add set inet ipvsd hairpin_v4 { type ipv4_addr . ipv4_addr . inet_proto . inet_service ; }
                add set inet ipvsd masquerade_v4 { type ipv4_addr . inet_proto . inet_service ; }
                add set inet ipvsd hairpin_v6 { type ipv6_addr . ipv6_addr . inet_proto . inet_service ; }
                add set inet ipvsd masquerade_v6 { type ipv6_addr . inet_proto . inet_service ; }
                add chain inet ipvsd prerouting { type filter hook prerouting priority mangle ; policy accept ; }
                add chain inet ipvsd output { type filter hook output priority mangle ; policy accept ; }
                add chain inet ipvsd postrouting { type nat hook postrouting priority srcnat ; policy accept ; }
                flush chain inet ipvsd prerouting
                flush chain inet ipvsd output
                flush chain inet ipvsd postrouting
                add rule inet ipvsd prerouting ip daddr . meta l4proto . th dport @masquerade_v4 meta mark set meta mark | 0x4000
                add rule inet ipvsd output ip daddr . meta l4proto . th dport @masquerade_v4 meta mark set meta mark | 0x4000
                add rule inet ipvsd prerouting ip6 daddr . meta l4proto . th dport @masquerade_v6 meta mark set meta mark | 0x4000
                add rule inet ipvsd output ip6 daddr . meta l4proto . th dport @masquerade_v6 meta mark set meta mark | 0x4000
                add rule inet ipvsd postrouting meta mark & 0x4000 == 0x4000 meta mark set meta mark & 0xffffbfff masquerade
                add rule inet ipvsd postrouting ip saddr . ip daddr . meta l4proto . th dport @hairpin_v4 masquerade
                add rule inet ipvsd postrouting ip6 saddr . ip6 daddr . meta l4proto . th dport @hairpin_v6 masquerade
                flush set inet ipvsd hairpin_v4
                flush set inet ipvsd masquerade_v4
                add element inet ipvsd hairpin_v4 { 10.244.0.9 . 10.244.0.9 . 17 . 53, 10.244.1.2 . 10.244.1.2 . 6 . 8080 }
                add element inet ipvsd masquerade_v4 { 192.0.2.10 . 6 . 80 }
                flush set inet ipvsd hairpin_v6
                flush set inet ipvsd masquerade_v6
                add element inet ipvsd hairpin_v6 { fd00::5 . fd00::5 . 132 . 3868 }

                """
        )
    }

    @Test func removeDeletesOnlyTheAgentsTableAndSucceedsWhenItIsAbsent() {
        #expect(NftablesScript.remove == "add table inet ipvsd\ndelete table inet ipvsd\n")
    }
}
