import Agent
import AgentAPI
import Foundation
import IPVS
import Testing

/// The facts a real ``Agent`` gathers for `explain` on the example manifests and a fake kernel; the
/// verdicts on them are ``ExplainChecksTests``'s.
@Suite struct AgentExplainTests {
    @Test func programmedServiceHasEveryFact() async throws {
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        await agent.tick(now: .now)
        let facts = await agent.explain("default/backend-api", interval: .zero)
        #expect(facts.service == "default/backend-api")
        #expect(facts.clusterIPs == ["10.96.100.50"])
        #expect(
            facts.ports.map(\.virtualServer) == [
                "10.96.100.50:80/tcp", "10.96.100.50:9090/tcp", "10.96.100.50:50051/tcp",
            ]
        )
        let http = try #require(facts.ports.first)
        #expect(http.portName == "http")
        #expect(http.kernel == "rr" && http.desired == "rr")
        #expect(http.counts == EndpointCounts(total: 2, ready: 2, serving: 2, terminating: 0))
        #expect(http.endpoints.map(\.kernelWeight) == [1, 1])
        #expect(http.first != nil && http.second != nil)
        #expect(facts.vips == [ExplainVIP(address: "10.96.100.50", bound: true)])
        #expect(facts.modules.first == ExplainModule(name: "ip_vs", loaded: true, why: "IPVS itself"))
        let report = ExplainReport(facts: facts)
        #expect(report.checks.filter { $0.check == "kernel" }.allSatisfy { $0.status == .ok })
    }

    @Test func addressTargetFindsTheService() async throws {
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        await agent.tick(now: .now)
        #expect(await agent.explain("10.96.100.50:9090", interval: .zero).service == "default/backend-api")
        #expect(await agent.explain("10.96.100.50:1", interval: .zero).service == nil)
    }

    @Test func kernelDriftIsReported() async throws {
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        await agent.tick(now: .now)
        // Another tool deletes a real server behind the agent's back.
        let id = tcp("10.96.100.50", 80)
        _ = sandbox.kernel.apply([.deleteServer(rs("10.244.2.21", 8080), from: id)], progress: nil)
        let facts = await agent.explain("default/backend-api", interval: .zero)
        let report = ExplainReport(facts: facts)
        let kernel = try #require(report.checks.first { $0.check == "kernel" })
        #expect(kernel.status == .fail)
        #expect(kernel.message.contains("10.244.2.21:8080: want weight 1, not in the kernel"))
        #expect(report.failed)
    }

    @Test func headlessAndUnknown() async throws {
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        await agent.tick(now: .now)
        let headless = await agent.explain("default/backend-api-headless", interval: .zero)
        #expect(headless.headless)
        #expect(headless.ports.isEmpty)
        #expect(headless.headlessAddresses == 1)
        let unknown = await agent.explain("default/nope", interval: .zero)
        #expect(unknown.service == nil)
        #expect(unknown.knownServices > 0)
    }
}
