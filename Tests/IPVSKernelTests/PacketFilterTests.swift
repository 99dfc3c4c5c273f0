import IPVS
import Testing

// The agent's nftables table against the real kernel, in a fresh namespace, with `nft list set` inside it as
// the independent oracle.

@Suite(.serialized, .enabled(if: KernelTests.enabled))
struct PacketFilterTests {
    let sandbox: KernelSandbox
    let filter: Nftables

    init() throws {
        sandbox = try KernelSandbox()
        filter = Nftables(namespace: sandbox.namespace.namespace)
    }

    func destination(_ address: String, _ proto: IPProtocol, _ port: UInt16) -> MasqueradeRules.Destination {
        guard let parsed = IPAddress(address) else { fatalError("bad address literal \(address)") }
        return .init(address: parsed, proto: proto, port: port)
    }

    /// The elements of one set as `nft` prints them, one per entry, sorted.
    func elements(_ set: String) throws -> [String] {
        let listing = try sandbox.run("nft", "list", "set", "inet", "ipvsd", set)
        guard let open = listing.range(of: "elements = {") else { return [] }
        let body = listing[open.upperBound...].prefix { $0 != "}" }
        return body.split(separator: ",").map { $0.split(whereSeparator: \.isWhitespace).joined(separator: " ") }
            .filter { !$0.isEmpty }.sorted()
    }

    /// The names of the sets in the agent's table, sorted (`nft -t`: without elements).
    func setNames() throws -> [String] {
        NftablesScript.agentSets(inListing: try sandbox.run("nft", "-t", "list", "sets", "inet")).sorted()
    }

    /// The full resync's check: true while the last write stands, false once a flush, a deleted table, set
    /// or chain took any of it, and false in a process that has not written (it cannot know what to expect).
    @Test func holdsLastWriteSeesAFlushedRulesetADeletedSetOrChain() throws {
        let rules = MasqueradeRules(hairpin: [destination("10.244.1.2", .tcp, 8080)], masqueraded: [])
        #expect(try !filter.holdsLastWrite())
        try filter.apply(rules)
        #expect(try filter.holdsLastWrite())
        #expect(try !Nftables(namespace: sandbox.namespace.namespace).holdsLastWrite())
        // Another table's objects with the same names do not count.
        _ = try sandbox.run("nft", "add", "table", "inet", "other")
        _ = try sandbox.run("nft", "add", "chain", "inet", "other", "prerouting")

        _ = try sandbox.run("nft", "flush", "ruleset")
        #expect(try !filter.holdsLastWrite())
        try filter.apply(rules)
        #expect(try filter.holdsLastWrite())

        _ = try sandbox.run("nft", "delete", "chain", "inet", "ipvsd", "output")
        #expect(try !filter.holdsLastWrite())
        try filter.apply(rules)
        #expect(try filter.holdsLastWrite())

        // A set can only go with the rules that use it.
        _ = try sandbox.run("nft", "flush", "chain", "inet", "ipvsd", "postrouting")
        let victim = try #require(try setNames().first { $0.hasPrefix("hairpin_v6") })
        _ = try sandbox.run("nft", "delete", "set", "inet", "ipvsd", victim)
        #expect(try !filter.holdsLastWrite())

        _ = try sandbox.run("nft", "delete", "table", "inet", "ipvsd")
        #expect(try !filter.holdsLastWrite())
        try filter.remove()
    }

    @Test func anUpdateChangesOnlyTheElementsAndFailsWhole() throws {
        let kept = destination("10.244.1.2", .tcp, 8080)
        let gone = destination("10.244.0.9", .udp, 53)
        let added = destination("10.244.3.4", .tcp, 9090)
        let vip = destination("192.0.2.10", .tcp, 80)
        let first = MasqueradeRules(hairpin: [kept, gone], masqueraded: [vip])
        try filter.apply(first)
        let rules = try sandbox.run("nft", "list", "chain", "inet", "ipvsd", "postrouting")

        let second = MasqueradeRules(hairpin: [kept, added], masqueraded: [])
        try filter.update(
            removing: MasqueradeRules(hairpin: [gone], masqueraded: [vip]),
            adding: MasqueradeRules(hairpin: [added])
        )
        #expect(
            try elements("hairpin_v4_g1") == [
                "10.244.1.2 . 10.244.1.2 . tcp . 8080", "10.244.3.4 . 10.244.3.4 . tcp . 9090",
            ]
        )
        #expect(try elements("masquerade_v4_g1") == [])
        // The chains were not rewritten.
        #expect(try sandbox.run("nft", "list", "chain", "inet", "ipvsd", "postrouting") == rules)

        // From a state the table does not hold: the delete of an absent element fails the transaction, and
        // nothing changes, not even the add in the same script.
        #expect(throws: IPVSError.self) {
            try filter.update(
                removing: MasqueradeRules(hairpin: [gone]),
                adding: MasqueradeRules(hairpin: [destination("10.244.5.6", .tcp, 1)])
            )
        }
        #expect(
            try elements("hairpin_v4_g1") == [
                "10.244.1.2 . 10.244.1.2 . tcp . 8080", "10.244.3.4 . 10.244.3.4 . tcp . 9090",
            ]
        )
        // A second process (a restart) finds the live generation by listing the sets.
        let restarted = Nftables(namespace: sandbox.namespace.namespace)
        try restarted.update(
            removing: MasqueradeRules(hairpin: [added]),
            adding: MasqueradeRules(hairpin: [gone], masqueraded: [vip])
        )
        #expect(try elements("masquerade_v4_g1") == ["192.0.2.10 . tcp . 80"])
        try filter.remove()
    }

    /// Set elements go as nftables' netlink messages (256 elements a message, several messages a set in one
    /// transaction): nft reads back every element as written, in both families and all three protocols, and
    /// a transaction whose last message fails leaves the sets exactly as they were.
    @Test func elementsSentAsNetlinkMessagesReadBackExactlyAndFailWhole() throws {
        func v4(_ index: Int) -> String { "10.244.\(index / 250).\(index % 250 + 1)" }
        let protocols: [IPProtocol] = [.tcp, .udp, .sctp]
        let hairpin4 = Set((0..<1_000).map { destination(v4($0), protocols[$0 % 3], UInt16(1 + $0)) })
        let hairpin6 = Set((0..<300).map { destination("fd00:10:244::\(String($0 + 1, radix: 16))", .tcp, 443) })
        let masqueraded = Set(
            (0..<300).map { destination("fd00:96::\(String($0 + 1, radix: 16))", .udp, 53) }
                + (0..<20).map { destination("10.96.0.\($0 + 1)", .sctp, 3868) }
        )
        try filter.apply(MasqueradeRules(hairpin: hairpin4.union(hairpin6), masqueraded: masqueraded))
        func names(_ set: Set<MasqueradeRules.Destination>, hairpin: Bool) -> [String] {
            set.map { element in
                let tail = "\(element.address) . \(element.proto) . \(element.port)"
                return hairpin ? "\(element.address) . \(tail)" : tail
            }.sorted()
        }
        #expect(try elements("hairpin_v4_g1") == names(hairpin4, hairpin: true))
        #expect(try elements("hairpin_v6_g1") == names(hairpin6, hairpin: true))
        #expect(
            try elements("masquerade_v6_g1")
                == names(masqueraded.filter { $0.address.family == .inet6 }, hairpin: false)
        )
        #expect(
            try elements("masquerade_v4_g1") == names(masqueraded.filter { $0.address.family == .inet }, hairpin: false)
        )

        // 600 present elements deleted and 500 added, with one absent delete in the last message of its set:
        // the kernel refuses the whole transaction, and the error names the set and the cause.
        let removed = Set(hairpin4.sorted().prefix(600))
        let absent = destination("10.244.250.250", .tcp, 1)
        let added = Set((0..<500).map { destination("10.245.\($0 / 250).\($0 % 250 + 1)", .tcp, 80) })
        let refused = #expect(throws: IPVSError.self) {
            try filter.update(
                removing: MasqueradeRules(hairpin: removed.union([absent])),
                adding: MasqueradeRules(hairpin: added)
            )
        }
        let message = refused?.message ?? ""
        #expect(message.contains("delete 601 elements of set hairpin_v4_g1"), "\(message)")
        #expect(message.contains("No such file"), "\(message)")
        #expect(try elements("hairpin_v4_g1") == names(hairpin4, hairpin: true))
        try filter.update(removing: MasqueradeRules(hairpin: removed), adding: MasqueradeRules(hairpin: added))
        #expect(try elements("hairpin_v4_g1") == names(hairpin4.subtracting(removed).union(added), hairpin: true))
        try filter.remove()
    }

    /// A whole write in transactions of 3 elements: a new generation beside the live one, then the switch,
    /// which deletes the old generation, the unnumbered sets of an earlier release and a crashed write's
    /// leftovers, and leaves one generation holding exactly the rules.
    @Test func aWholeWriteInBoundedTransactionsLeavesOneGeneration() throws {
        let small = Nftables(namespace: sandbox.namespace.namespace, elementsPerTransaction: 3)
        // An earlier release's table: unnumbered sets, rules referencing them.
        try sandbox.run(
            ["nft", "-f", "-"],
            input: """
                add table inet ipvsd
                add set inet ipvsd hairpin_v4 { type ipv4_addr . ipv4_addr . inet_proto . inet_service ; }
                add set inet ipvsd masquerade_v4 { type ipv4_addr . inet_proto . inet_service ; }
                add set inet ipvsd hairpin_v6 { type ipv6_addr . ipv6_addr . inet_proto . inet_service ; }
                add set inet ipvsd masquerade_v6 { type ipv6_addr . inet_proto . inet_service ; }
                add chain inet ipvsd postrouting { type nat hook postrouting priority srcnat ; policy accept ; }
                add rule inet ipvsd postrouting ip saddr . ip daddr . meta l4proto . th dport @hairpin_v4 masquerade
                add element inet ipvsd hairpin_v4 { 10.244.9.9 . 10.244.9.9 . 6 . 80 }

                """
        )
        let hairpin = Set((1...10).map { destination("10.244.0.\($0)", .tcp, 8080) })
        let rules = MasqueradeRules(hairpin: hairpin, masqueraded: [destination("192.0.2.10", .tcp, 80)])
        try small.apply(rules)
        #expect(try setNames() == ["hairpin_v4_g1", "hairpin_v6_g1", "masquerade_v4_g1", "masquerade_v6_g1"])
        #expect(try elements("hairpin_v4_g1") == hairpin.map { "\($0.address) . \($0.address) . tcp . 8080" }.sorted())
        #expect(try elements("masquerade_v4_g1") == ["192.0.2.10 . tcp . 80"])
        let postrouting = try sandbox.run("nft", "list", "chain", "inet", "ipvsd", "postrouting")
        #expect(postrouting.contains("@hairpin_v4_g1 masquerade") && !postrouting.contains("@hairpin_v4 "))

        // A write that died after filling part of generation 2: its sets stay beside the live ones until the
        // next whole write, which goes to generation 3 and deletes both.
        try sandbox.run(
            ["nft", "-f", "-"],
            input: """
                add set inet ipvsd hairpin_v4_g2 { type ipv4_addr . ipv4_addr . inet_proto . inet_service ; }
                add element inet ipvsd hairpin_v4_g2 { 10.244.7.7 . 10.244.7.7 . 6 . 80 }

                """
        )
        // Until then, an update goes to the lowest generation, the live one.
        let fewer = MasqueradeRules(hairpin: hairpin.subtracting([destination("10.244.0.1", .tcp, 8080)]))
        try Nftables(namespace: sandbox.namespace.namespace).update(
            removing: MasqueradeRules(
                hairpin: rules.hairpin.subtracting(fewer.hairpin),
                masqueraded: rules.masqueraded
            ),
            adding: MasqueradeRules()
        )
        #expect(try elements("hairpin_v4_g1").count == 9)
        #expect(try elements("masquerade_v4_g1") == [])
        try small.apply(rules)
        #expect(try setNames() == ["hairpin_v4_g3", "hairpin_v6_g3", "masquerade_v4_g3", "masquerade_v6_g3"])
        #expect(try elements("hairpin_v4_g3").count == 10)
        try small.remove()
        #expect(try setNames() == [])
    }
}
