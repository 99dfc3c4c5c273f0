import Foundation
import TestSupport
import Testing

/// The health loop on the real kernel: a dead backend leaves IPVS within interval x fall + timeout and
/// comes back after rise successes.
@Suite(.serialized, .enabled(if: AgentKernel.enabled, "needs root and a kernel with IPVS"))
struct AgentHealthTests {
    static let vip = "10.96.77.20"

    @Test func deadBackendLeavesAndReturns() throws {
        let lab = try AgentLab(healthInterval: "500ms")
        let (be1, be2) = (lab.backends[0], lab.backends[1])
        try lab.writeService(clusterIP: Self.vip, backends: [0, 1])
        try lab.startAgent()
        #expect(
            try lab.waitUntil(.seconds(20)) { try lab.rules().count == 3 },
            "\((try? lab.rules()).map { "\($0)" } ?? "")\n\(lab.log)"
        )

        try lab.stopBackend(1)
        // interval 0.5 s x fall 3 + timeout 0.5 s = 2 s; allow for the emulated VM's slowness.
        let removed = try lab.waitUntil(.seconds(8)) { !(try lab.rules().contains { $0.contains(be2.address) }) }
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
}
