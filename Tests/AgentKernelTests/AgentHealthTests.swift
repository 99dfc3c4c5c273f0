import Foundation
import TestSupport
import Testing

/// The health loop on the real kernel: a dead backend leaves IPVS within interval x fall + timeout and
/// comes back after rise successes.
@Suite(.serialized, .enabled(if: AgentKernel.enabled, "needs root and a kernel with IPVS"))
struct AgentHealthTests {
    static let vip = "10.96.77.20"

    @Test func deadBackendLeavesAndReturns() throws {
        let lab = try AgentLab(healthInterval: "1s")
        let (be1, be2) = (lab.backends[0], lab.backends[1])
        try lab.writeService(clusterIP: Self.vip, backends: [0, 1])
        try lab.startAgent()
        #expect(
            try lab.waitUntil(.seconds(20)) { try lab.rules().count == 3 },
            "\((try? lab.rules()).map { "\($0)" } ?? "")\n\(lab.log)"
        )

        try lab.stopBackend(1)
        // interval 1 s x fall 3 + timeout 1 s = 4 s; allow for the emulated VM's slowness.
        let removed = try lab.waitUntil(.seconds(12)) { !(try lab.rules().contains { $0.contains(be2.address) }) }
        #expect(removed, "dead backend still in IPVS: \((try? lab.rules()).map { "\($0)" } ?? "")")
        #expect(try lab.requests("http://\(Self.vip)/", count: 4) == [be1.name: 4])
        let health = try lab.ipvsctl("agent", "health", "--socket", lab.socket)
        #expect(health.contains("tcp \(be2.address):8080  down   connection refused"), "\(health)")

        try lab.startBackend(1)
        let returned = try lab.waitUntil(.seconds(8)) { try lab.rules().count == 3 }
        #expect(returned, "recovered backend not back: \((try? lab.rules()).map { "\($0)" } ?? "")")
        let spread = try lab.requests("http://\(Self.vip)/", count: 6)
        #expect(spread.keys.sorted() == [be1.name, be2.name].sorted(), "both serve again: \(spread)")
        lab.stopAgent()
    }

    /// A backend whose check fails every other time never reaches `fall` consecutive failures: the agent
    /// leaves it in IPVS and writes nothing to the kernel however long it flaps.
    @Test func flappingBackendDoesNotThrashTheKernel() throws {
        let lab = try AgentLab(healthInterval: "500ms")
        // A CGI fork in the emulated VM can be slow: a generous timeout, and fall 4 so one stray timeout next
        // to two designed failures cannot take it down either.
        let annotations = [
            "ipvsd.io/health-check": "http", "ipvsd.io/health-path": "/cgi-bin/flap",
            "ipvsd.io/health-timeout": "3s", "ipvsd.io/health-fall": "4",
        ]
        try lab.writeService(clusterIP: Self.vip, backends: [0, 1], annotations: annotations)
        try lab.startAgent()
        let up = try lab.waitUntil(.seconds(20)) {
            try lab.rules().count == 3 && lab.flapCalls(1) >= 2
        }
        #expect(up, "\((try? lab.rules()).map { "\($0)" } ?? "")\n\(lab.log)")
        let programmed = try lab.rules()

        try lab.setFlapping(1, true)
        let start = lab.flapCalls(1)
        var samples = 0
        var changed: [String] = []
        // Until 12 more checks (6 failures) have happened, the rules never change.
        let flapped = try lab.waitUntil(.seconds(30)) {
            samples += 1
            let now = try lab.rules()
            if now != programmed { changed = now }
            return lab.flapCalls(1) - start >= 12 || !changed.isEmpty
        }
        #expect(flapped && changed.isEmpty, "rules changed while flapping: \(changed) (\(samples) samples)")
        #expect(!lab.log.contains("target down"), "a flapping backend went down:\n\(lab.log)")
        // The live view: still up, and the last results disagree with each other (a run of one).
        let health = try lab.ipvsctl("agent", "health", "--socket", lab.socket, "--json")
        let views = try JSONSerialization.jsonObject(with: Data(health.utf8)) as? [[String: Any]] ?? []
        let flapper = views.first { ($0["target"] as? String)?.contains(lab.backends[1].address) == true }
        #expect(flapper?["state"] as? String == "up", "\(health)")
        #expect(flapper?["consecutive"] as? Int == 1, "\(health)")
        lab.stopAgent()
    }
}
