import Foundation
import TestSupport
import Testing

/// The real `ipvsd` killed (SIGKILL, from inside, at an exact step of a sync) and restarted on the real kernel:
/// the service it was adding is its own afterwards (edits reach it, `cleanup` removes it). And with the state
/// file deleted. AgentTests.AgentCrashConsistencyTests covers every step against the fake kernel.
@Suite(.serialized, .enabled(if: AgentKernel.enabled, "needs root and a kernel with IPVS"))
struct AgentCrashTests {
    static let first = "10.96.78.10"
    static let second = "10.96.78.20"

    /// A second Service, `late`, on `second`.
    private func writeLate(_ lab: AgentLab, backends indices: [Int]) throws {
        try lab.writeService(clusterIP: Self.second, backends: indices, name: "late", file: "late.yaml")
    }

    private func lateRules(_ lab: AgentLab) throws -> [String] {
        try lab.rules().filter { $0.contains("\(Self.second):80 ") }
    }

    /// After the restart: no conflict, an endpoint edit reaches `late`, and `ipvsd cleanup` removes it with
    /// its VIP (it is owned).
    private func expectOwned(_ lab: AgentLab, _ context: String, foreign: [String] = []) throws {
        let converged = try lab.waitUntil(.seconds(30)) {
            try lateRules(lab).count == 2
                && (try? lab.ipvsctl("agent", "status", "--socket", lab.socket))?.contains("conflict") == false
        }
        #expect(
            converged,
            "\(context): \((try? lab.rules()) ?? [])\n\((try? lab.ipvsctl("agent", "status", "--socket", lab.socket)) ?? "")\n\(lab.log)"
        )
        try writeLate(lab, backends: [0, 1])
        let edited = try lab.waitUntil(.seconds(60)) { try lateRules(lab).count == 3 }
        #expect(edited, "\(context): the recovered service is not managed: \((try? lab.rules()) ?? [])\n\(lab.log)")
        lab.stopAgent()
        _ = try AgentLab.run([
            "ip", "netns", "exec", lab.lbNamespace, ChildProcess.builtProduct("ipvsd"), "cleanup", "--config",
            lab.configPath,
        ])
        #expect(try lab.rules() == foreign, "\(context): cleanup left \((try? lab.rules()) ?? [])")
        // The VIP goes with the service, unless a service ipvsd does not own still uses it.
        #expect(try lab.localRoutes().contains("local \(Self.second) ") == !foreign.isEmpty, "\(context)")
    }

    /// The state file cannot be written (a full disk): a Service moved to another port keeps its old virtual
    /// server, and its traffic, until the file can be written; then the move completes. (Before, the old one
    /// was deleted and the new one never added.)
    @Test func unwritableStateFileKeepsAMovedServiceServing() throws {
        let lab = try AgentLab(healthInterval: "1s")
        try lab.writeService(clusterIP: Self.first, backends: [0])
        try lab.startAgent()
        #expect(try lab.waitUntil(.seconds(60)) { try lab.rules().count == 2 }, "\(lab.log)")
        // A directory where the state file's temporary copy goes makes every save fail, as a full disk does.
        let blocker = lab.directory + "/state.json.tmp"
        try FileManager.default.createDirectory(atPath: blocker + "/keep", withIntermediateDirectories: true)
        let path = lab.directory + "/manifests/service.yaml"
        let text = try String(contentsOfFile: path, encoding: .utf8)
        try lab.writeManifest("service.yaml", text.replacingOccurrences(of: "port: 80,", with: "port: 81,"))
        let refused = try lab.waitUntil(.seconds(60)) { lab.log.contains("cannot record 1 new services") }
        #expect(refused, "\(lab.log)")
        #expect(try lab.rules().filter { $0.contains("\(Self.first):80 ") }.count == 2, "\((try? lab.rules()) ?? [])")
        let backend = lab.backends[0].name
        #expect(try lab.requests("http://\(Self.first):80/", count: 3) == [backend: 3])

        try FileManager.default.removeItem(atPath: blocker)
        let moved = try lab.waitUntil(.seconds(60)) {
            try lab.rules().filter { $0.contains("\(Self.first):81 ") }.count == 2
        }
        #expect(moved, "\((try? lab.rules()) ?? [])\n\(lab.log)")
        #expect(try lab.requests("http://\(Self.first):81/", count: 3) == [backend: 3])
    }

    // Waits are upper bounds: on a loaded host the emulated VM took 8 s just to start the agent, and the first
    // sync (with its nftables transaction) more than the 20 s these waits once allowed.
    @Test(arguments: ["intent-recorded", "services-added", "ownership-recorded"])
    func killedWhileAddingAServiceOwnsItAfterRestart(step: String) throws {
        let lab = try AgentLab(healthInterval: "1s")
        try lab.writeService(clusterIP: Self.first, backends: [0])
        try lab.startAgent()
        #expect(try lab.waitUntil(.seconds(60)) { try lab.rules().count == 2 }, "\(lab.log)")
        lab.stopAgent()

        try writeLate(lab, backends: [1])
        try lab.startAgent(environment: ["IPVSD_CRASH_AT": step])
        let ended = try #require(lab.waitForAgentExit(.seconds(30)), "ipvsd did not reach \(step)\n\(lab.log)")
        #expect(ended.reason == .uncaughtSignal && ended.status == SIGKILL, "\(ended)")
        // The kill came after the kernel or the state file changed as the step says.
        if step != "intent-recorded" { #expect(try lateRules(lab).count >= 1, "\((try? lab.rules()) ?? [])") }

        try lab.startAgent()
        try expectOwned(lab, "killed at \(step)")
    }

    @Test func deletedStateFileIsRecoveredFromTheVIPs() throws {
        let lab = try AgentLab(healthInterval: "1s")
        try lab.writeService(clusterIP: Self.first, backends: [0])
        try writeLate(lab, backends: [1])
        try lab.startAgent()
        #expect(try lab.waitUntil(.seconds(60)) { try lab.rules().count == 4 }, "\(lab.log)")
        lab.stopAgent()
        try FileManager.default.removeItem(atPath: lab.directory + "/state.json")
        // A service another tool made on one of ipvsd's VIPs, on a port no Service has: never taken.
        _ = try lab.inLB("ipvsadm -A -t \(Self.second):8443 -s wlc")

        try lab.startAgent()
        try expectOwned(lab, "state file deleted", foreign: ["-A -t \(Self.second):8443 -s wlc"])
    }
}
