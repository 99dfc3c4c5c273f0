import IPVS
import Testing

@testable import Agent

/// Config-level defaults reach the kernel.
@Suite struct AgentDefaultsTests {
    @Test func configuredWeightIsProgrammed() async throws {
        let sandbox = try AgentSandbox()
        sandbox.configuration.weight = 3
        let agent = try sandbox.makeAgent()
        await agent.tick(now: .now)
        #expect(Set(sandbox.kernel.entries.values.flatMap { $0.servers.map(\.weight) }) == [3])
    }
}
