import IPVS
import ServiceTables
import Testing

@testable import Agent

/// /metrics' kernel counters (`KernelStatisticsReader`): read off the agent's actor, shared and reused
/// between scrapes, and per real server only up to a bound.
@Suite struct KernelStatisticsTests {
    private func lines(_ text: String, _ prefix: String) -> [Substring] {
        text.split(separator: "\n").filter { $0.hasPrefix(prefix) }
    }

    @Test func countersOfEveryOwnedServerAreReadOnceAndReusedWithinTheWindow() async throws {
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        await agent.tick(now: .now)
        let (id, server) = try #require(
            sandbox.kernel.entries.sorted { $0.key < $1.key }.first.flatMap { entry in
                entry.value.servers.first.map { (entry.key, $0.id) }
            }
        )
        sandbox.kernel.setConnections(7, 3, of: server, in: id)
        let reader = KernelStatisticsReader(agent: agent, reuse: .seconds(3600))
        let before = sandbox.kernel.readCount
        let text = await reader.text()
        // One dump of the services, one of each owned service's servers (the examples: 4 and 8).
        #expect(sandbox.kernel.readCount - before == 1 + 4)
        #expect(lines(text, "ipvsd_virtual_server_connections_total{").count == 4)
        #expect(lines(text, "ipvsd_real_server_bytes_out_total{").count == 8)
        let active = lines(text, "ipvsd_real_server_active_connections{")
        #expect(active.count == 8)
        #expect(active.contains { $0.contains("real_server=\"\(server)\"") && $0.hasSuffix(" 7") })
        #expect(!text.contains("omitted"))

        // A second scrape within the window is the same text, with no kernel read.
        #expect(await reader.text() == text)
        #expect(sandbox.kernel.readCount - before == 5)
    }

    @Test func aboveTheBoundOnlyVirtualServersAreReadAndTheOmissionIsCounted() async throws {
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        await agent.tick(now: .now)
        var scope = try #require(await agent.kernelStatisticsScope())
        scope = KernelStatisticsScope(
            kernel: scope.kernel,
            owned: scope.owned,
            desired: scope.desired,
            realServers: KernelStatisticsScope.maxRealServers + 1
        )
        let before = sandbox.kernel.readCount
        let text = scope.render()
        #expect(sandbox.kernel.readCount - before == 1)
        #expect(lines(text, "ipvsd_virtual_server_packets_in_total{").count == 4)
        #expect(lines(text, "ipvsd_real_server_").isEmpty)
        #expect(
            text.contains(
                "\nipvsd_kernel_statistics_real_servers_omitted \(KernelStatisticsScope.maxRealServers + 1)\n"
            )
        )
    }

    @Test func switchedOffReadsNothing() async throws {
        let sandbox = try AgentSandbox()
        sandbox.configuration.kernelStatistics = false
        let agent = try sandbox.makeAgent()
        await agent.tick(now: .now)
        let before = sandbox.kernel.readCount
        #expect(await KernelStatisticsReader(agent: agent).text() == "")
        #expect(sandbox.kernel.readCount == before)
    }
}
