import Foundation
import TestSupport
import Testing

/// Hairpin traffic through the agent's nftables table, with real connections: a backend that requests its
/// own Service and is picked as the backend gets an answer only with the masquerade rule.
@Suite(.serialized, .enabled(if: AgentKernel.enabled, "needs root and a kernel with IPVS"))
struct AgentMasqueradeTests {
    static let vip = "10.96.78.10"

    /// kube-proxy's KUBE-LOOP-BACK holds local endpoints only: with node names known, an endpoint on another
    /// node has no hairpin element and a local one has; when the other one moves to this node (its slice says
    /// so), its element is added by the update, without a whole write.
    @Test func hairpinElementsOnlyForEndpointsThatMayBeLocal() throws {
        let lab = try AgentLab(backends: 2)
        let (local, remote) = (lab.backends[0].address, lab.backends[1].address)
        func element(_ address: String) -> String { "\(address) . \(address) . tcp . 8080" }
        func table() throws -> String { try lab.inLB("nft list table inet ipvsd") }
        let annotations = ["ipvsd.io/health-check": "none"]
        try lab.writeService(
            clusterIP: Self.vip,
            backends: [0, 1],
            annotations: annotations,
            nodeNames: [0: "lab-node", 1: "other-node"]
        )
        try lab.writeConfig(healthInterval: "500ms", extra: "nodeName: lab-node", resyncPeriod: "1h")
        try lab.startAgent()
        let programmed = try lab.waitUntil(.seconds(30)) {
            try lab.rules().count == 3 && (try? table())?.contains(element(local)) == true
        }
        #expect(programmed, "\((try? lab.rules()) ?? [])\n\((try? table()) ?? "")\n\(lab.log)")
        #expect(try !table().contains(element(remote)), "\((try? table()) ?? "")")

        try lab.writeService(
            clusterIP: Self.vip,
            backends: [0, 1],
            annotations: annotations,
            nodeNames: [0: "lab-node", 1: "lab-node"]
        )
        let moved = try lab.waitUntil(.seconds(30)) { try table().contains(element(remote)) }
        #expect(moved, "\((try? table()) ?? "")\n\(lab.log)")
        #expect(try table().contains(element(local)))
        #expect(try lab.rules().count == 3)
        lab.stopAgent()
    }

    @Test func hairpinNeedsTheMasqueradeRuleAndCleanupRemovesOnlyTheAgentsTable() throws {
        let lab = try AgentLab(backends: 1)
        let backend = lab.backends[0]
        // Another program's table in the same namespace: the agent must never touch it.
        _ = try lab.inLB("nft add table inet keepme && nft add chain inet keepme c")
        // A node forwards (pods need it): the masqueraded reply is un-NATed to the backend and forwarded.
        _ = try lab.inLB("sysctl -qw net.ipv4.ip_forward=1")
        try lab.writeService(clusterIP: Self.vip, backends: [0], annotations: ["ipvsd.io/health-check": "none"])
        func fromBackend() throws -> String {
            try AgentLab.run([
                "ip", "netns", "exec", backend.name, "bash", "-c",
                "curl -s --max-time 2 http://\(Self.vip)/ || echo failed",
            ]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        func tables() throws -> String { try lab.inLB("nft list tables") }
        func programmed() throws -> Bool { try lab.rules().count == 2 }

        // Without the rule: the backend's reply goes to itself, bypassing IPVS, and the request fails.
        try lab.writeConfig(healthInterval: "500ms", extra: "masquerade: none")
        try lab.startAgent()
        #expect(try lab.waitUntil(.seconds(20), programmed), "not programmed: \(lab.log)")
        #expect(try lab.requests("http://\(Self.vip)/", count: 1) == [backend.name: 1])
        #expect(try fromBackend() == "failed")
        #expect(try !tables().contains("ipvsd"))
        lab.stopAgent()

        // With the default (hairpin): the same request is answered, by the backend itself. No periodic full
        // resync: one landing between the table's deletion below and the request would repair it early.
        try lab.writeConfig(healthInterval: "500ms", resyncPeriod: "1h")
        try lab.startAgent()
        let answered = try lab.waitUntil(.seconds(20)) { try fromBackend() == backend.name }
        #expect(answered, "hairpin request not answered: \((try? tables()) ?? "")\n\(lab.log)")
        let table = try lab.inLB("nft list table inet ipvsd")
        #expect(table.contains("\(backend.address) . \(backend.address) . tcp . 8080"), "\(table)")
        #expect(try lab.requests("http://\(Self.vip)/", count: 1) == [backend.name: 1])

        // A firewall reload takes the agent's table (a full resync checks it instead of rewriting it): the
        // next full resync finds it gone and writes it whole, and hairpin works again.
        _ = try lab.inLB("nft delete table inet ipvsd")
        #expect(try fromBackend() == "failed")
        _ = try lab.ipvsctl("agent", "sync", "--no-reload", "--socket", lab.socket)
        let repaired = try lab.waitUntil(.seconds(20)) { try fromBackend() == backend.name }
        #expect(repaired, "table not rewritten: \((try? tables()) ?? "")\n\(lab.log)")
        #expect(lab.log.contains("lost its sets or chains"), "\(lab.log)")
        lab.stopAgent()

        // cleanup removes the agent's table and leaves the other one.
        let cleanup = try lab.inLB("\(ChildProcess.builtProduct("ipvsd")) cleanup --config \(lab.configPath)")
        #expect(cleanup.contains("removed 1 virtual servers"), "\(cleanup)")
        let after = try tables()
        #expect(!after.contains("ipvsd") && after.contains("table inet keepme"), "\(after)")
    }
}
