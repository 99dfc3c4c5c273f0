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

    @Test func anUpdateChangesOnlyTheElementsAndFailsWhole() throws {
        let kept = destination("10.244.1.2", .tcp, 8080)
        let gone = destination("10.244.0.9", .udp, 53)
        let added = destination("10.244.3.4", .tcp, 9090)
        let vip = destination("192.0.2.10", .tcp, 80)
        let first = MasqueradeRules(hairpin: [kept, gone], masqueraded: [vip])
        try filter.apply(first)
        let rules = try sandbox.run("nft", "list", "chain", "inet", "ipvsd", "postrouting")

        let second = MasqueradeRules(hairpin: [kept, added], masqueraded: [])
        try filter.update(from: first, to: second)
        #expect(
            try elements("hairpin_v4") == [
                "10.244.1.2 . 10.244.1.2 . tcp . 8080", "10.244.3.4 . 10.244.3.4 . tcp . 9090",
            ]
        )
        #expect(try elements("masquerade_v4") == [])
        // The chains were not rewritten.
        #expect(try sandbox.run("nft", "list", "chain", "inet", "ipvsd", "postrouting") == rules)

        // From a state the table does not hold: the delete of an absent element fails the transaction, and
        // nothing changes, not even the add in the same script.
        #expect(throws: IPVSError.self) {
            try filter.update(from: first, to: MasqueradeRules(hairpin: [kept, destination("10.244.5.6", .tcp, 1)]))
        }
        #expect(
            try elements("hairpin_v4") == [
                "10.244.1.2 . 10.244.1.2 . tcp . 8080", "10.244.3.4 . 10.244.3.4 . tcp . 9090",
            ]
        )
        try filter.remove()
    }
}
