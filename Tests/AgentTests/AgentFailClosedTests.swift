import Agent
import Foundation
import IPVS
import Testing

/// Any failure to obtain the desired state keeps the last good state programmed and is reported: in the
/// status, in /readyz's reason and in `ipvsd_desired_state_stale`.
@Suite struct AgentFailClosedTests {
    /// A write-only sysctl: opening it for reading is EACCES even for root (procfs checks its own mode).
    static let unreadable = "/proc/sys/net/ipv4/route/flush"

    @Test(.enabled(if: FileManager.default.fileExists(atPath: unreadable), "needs \(unreadable)"))
    func unreadableManifestKeepsTheLastGoodState() async throws {
        let sandbox = try AgentSandbox()
        let metrics = AgentMetrics()
        let agent = try sandbox.makeAgent(metrics: metrics)
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        let table = sandbox.kernel.entries
        #expect(table.count == 4)
        #expect(agent.readiness.ready)
        sandbox.kernel.clearLog()

        try FileManager.default.createSymbolicLink(
            atPath: sandbox.manifests + "/zz-unreadable.yaml",
            withDestinationPath: Self.unreadable
        )
        await agent.requestReload(at: t0 + .seconds(1) - .milliseconds(500))
        await agent.tick(now: t0 + .seconds(1))
        await agent.tick(now: t0 + .seconds(31))  // a full resync too
        #expect(sandbox.kernel.log.isEmpty, "\(sandbox.kernel.log)")
        #expect(sandbox.kernel.entries == table)
        let status = agent.status()
        #expect(status.manifestErrors.count == 1)
        #expect(status.manifestErrors.first?.contains("zz-unreadable.yaml") == true, "\(status.manifestErrors)")
        let readiness = agent.readiness
        #expect(!readiness.ready)
        #expect(readiness.reason.contains("last good state stays programmed"), "\(readiness.reason)")
        #expect(metrics.registry.emitToString().contains("ipvsd_desired_state_stale 1"))

        try FileManager.default.removeItem(atPath: sandbox.manifests + "/zz-unreadable.yaml")
        await agent.requestReload(at: t0 + .seconds(32) - .milliseconds(500))
        await agent.tick(now: t0 + .seconds(32))
        #expect(agent.readiness.ready)
        #expect(metrics.registry.emitToString().contains("ipvsd_desired_state_stale 0"))
    }

    /// The manifests path gone (an unmounted volume, a typo in a rename) is an error, never "no Services".
    @Test func missingManifestsKeepTheLastGoodState() async throws {
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        let table = sandbox.kernel.entries
        try FileManager.default.moveItem(atPath: sandbox.manifests, toPath: sandbox.root + "/moved")
        sandbox.kernel.clearLog()
        await agent.requestReload(at: t0 + .seconds(1) - .milliseconds(500))
        await agent.tick(now: t0 + .seconds(1))
        await agent.tick(now: t0 + .seconds(31))
        #expect(sandbox.kernel.log.isEmpty)
        #expect(sandbox.kernel.entries == table)
        #expect(agent.status().manifestErrors.count == 1)
    }

    /// An external IP on the agent's own metrics listener would send /metrics, /healthz and /readyz to a
    /// backend: refused with the Service named, and nothing else changes.
    /// (A loopback external IP is refused by the manifest rules already.)
    @Test(arguments: ["0.0.0.0:9750", "[::]:9750", "192.0.2.10:9750"])
    func virtualServerOnTheMetricsListenerIsRefused(listener: String) async throws {
        let sandbox = try AgentSandbox()
        sandbox.configuration.metricsAddress = listener
        let agent = try sandbox.makeAgent()
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        let table = sandbox.kernel.entries
        sandbox.kernel.clearLog()
        try sandbox.write(
            """
            apiVersion: v1
            kind: Service
            metadata: {name: hijack, namespace: evil}
            spec:
              clusterIP: 10.96.9.9
              externalIPs: [192.0.2.10]
              ports:
              - {name: http, port: 9750, targetPort: 8080}
            """,
            to: sandbox.manifests + "/hijack.yaml"
        )
        await agent.requestReload(at: t0 + .seconds(1) - .milliseconds(500))
        await agent.tick(now: t0 + .seconds(1))
        #expect(sandbox.kernel.log.isEmpty, "\(sandbox.kernel.log)")
        #expect(sandbox.kernel.entries == table)
        let errors = agent.status().manifestErrors
        #expect(errors.count == (listener.hasPrefix("192") ? 1 : 2), "\(errors)")
        #expect(errors.allSatisfy { $0.contains("evil/hijack") && $0.contains("metrics listener") }, "\(errors)")
    }

    /// A real server the kernel refuses every time is visible in the status, not only in the log.
    @Test func refusedOperationsAreShownUntilASyncSucceeds() async throws {
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        let server = masq("10.244.2.21", 9090, weight: 1)
        let id = tcp("10.96.100.50", 9090)
        sandbox.kernel.failNext(errno: EINVAL) { $0 == .addServer(server, to: id) }
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        var status = agent.status()
        #expect(status.lastSync?.failures == 1)
        #expect(status.refusedOperations.count == 1)
        #expect(status.refusedOperations.first?.contains("10.244.2.21:9090") == true, "\(status.refusedOperations)")
        await agent.tick(now: t0 + .seconds(1))
        status = agent.status()
        #expect(status.refusedOperations.isEmpty)
        #expect(status.lastError == nil)
    }
}
