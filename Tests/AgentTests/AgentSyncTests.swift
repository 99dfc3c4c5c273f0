import Agent
import Foundation
import IPVS
import Testing
import YAMLSyntax

/// The sync paths of a real ``Agent`` on the example manifests: first programming, idle ticks, drains, restart.
@Suite struct AgentSyncTests {
    /// Runs the first tick and returns the cluster IP allocated for production/backend-api.
    private func start(
        _ agent: Agent,
        _ sandbox: AgentSandbox,
        at now: ContinuousClock.Instant
    ) async throws
        -> IPAddress
    {
        await agent.tick(now: now)
        let saved = try #require(try sandbox.savedState())
        return try #require(saved.clusterIPs["production/backend-api/IPv4"].flatMap { IPAddress($0) })
    }

    @Test func firstTickProgramsTheExampleManifests() async throws {
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        #expect(agent.status().ready == false)
        let allocated = try await start(agent, sandbox, at: .now)

        #expect(IPNetwork("10.96.0.0/12")!.contains(allocated))
        #expect(allocated != IPAddress("10.96.100.50"))
        let expected = exampleTable(allocated: allocated)
        #expect(sandbox.kernel.entries == expected)
        #expect(sandbox.kernel.log.count == 12)
        #expect(Set(sandbox.kernel.log) == additions(expected))
        #expect(sandbox.binder.bound == [allocated, IPAddress("10.96.100.50")!])

        let saved = try #require(try sandbox.savedState())
        #expect(saved.clusterIPs == ["production/backend-api/IPv4": allocated.description])
        #expect(try saved.ownedIDs() == Set(expected.keys))

        let status = agent.status()
        #expect(status.ready)
        #expect(status.virtualServers == 4)
        #expect(status.realServers == 8)
        #expect(status.manifestErrors.isEmpty)
        #expect(status.conflicts.isEmpty)
        #expect(status.lastError == nil)
        #expect(status.lastFullSync?.operations == 12)
        #expect(status.lastFullSync?.failures == 0)
    }

    @Test func unchangedTicksAndPeriodicResyncWriteNothing() async throws {
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        let t0 = ContinuousClock.now
        _ = try await start(agent, sandbox, at: t0)
        sandbox.kernel.clearLog()
        let table = sandbox.kernel.entries

        let reads = sandbox.kernel.readCount
        await agent.tick(now: t0 + .seconds(1))
        #expect(sandbox.kernel.log.isEmpty)
        #expect(sandbox.kernel.readCount == reads)

        // Past the 30 s resync period: the kernel is read again, and nothing needs repair.
        await agent.tick(now: t0 + .seconds(31))
        #expect(sandbox.kernel.readCount > reads)
        #expect(sandbox.kernel.log.isEmpty)
        #expect(agent.status().lastFullSync?.operations == 0)

        let before = sandbox.kernel.readCount
        await agent.requestFullResync(at: t0 + .seconds(32) - .milliseconds(500))
        await agent.tick(now: t0 + .seconds(32))
        #expect(sandbox.kernel.readCount > before)
        #expect(sandbox.kernel.log.isEmpty)
        #expect(sandbox.kernel.entries == table)
        #expect(sandbox.binder.added.count == 2)
        #expect(sandbox.binder.removed.isEmpty)
    }

    @Test func removedEndpointDrainsWithoutReadingTheKernelThenIsDeleted() async throws {
        let sandbox = try AgentSandbox()
        sandbox.configuration.drainCheckInterval = .seconds(10)
        sandbox.configuration.resyncPeriod = .seconds(3600)
        let agent = try sandbox.makeAgent()
        let t0 = ContinuousClock.now
        let allocated = try await start(agent, sandbox, at: t0)
        let production = VirtualServer.ID.service(.tcp, allocated, port: 80)
        sandbox.kernel.clearLog()
        let reads = sandbox.kernel.readCount

        let edited = ExampleManifests.endpointSlicesWithoutSecondProductionPod
        #expect(edited != ExampleManifests.endpointSlices)
        try sandbox.write(edited, to: sandbox.slicesFile)
        await agent.requestReload(at: t0 + .seconds(2) - .milliseconds(500))
        await agent.tick(now: t0 + .seconds(2))

        #expect(sandbox.kernel.log == [.updateServer(masq("10.244.1.12", 8080, weight: 0), in: production)])
        #expect(sandbox.kernel.readCount == reads)
        #expect(sandbox.kernel.entries[production]?.servers.map(\.weight) == [1, 0])
        #expect(agent.status().drainingRealServers == 1)
        let view = await agent.serviceViews().first { $0.virtualServer == production.description }
        #expect(view?.realServers.map(\.state) == ["serving", "draining"])

        // Connections left: the drain check reads them and keeps the server.
        sandbox.kernel.clearLog()
        sandbox.kernel.setConnections(3, 1, of: rs("10.244.1.12", 8080), in: production)
        await agent.tick(now: t0 + .seconds(10))
        #expect(sandbox.kernel.readCount > reads)
        #expect(sandbox.kernel.log.isEmpty)
        #expect(agent.status().drainingRealServers == 1)

        sandbox.kernel.setConnections(0, 0, of: rs("10.244.1.12", 8080), in: production)
        await agent.tick(now: t0 + .seconds(20))
        #expect(sandbox.kernel.log == [.deleteServer(rs("10.244.1.12", 8080), from: production)])
        #expect(sandbox.kernel.entries[production]?.servers == [masq("10.244.1.11", 8080, weight: 1)])
        #expect(agent.status().drainingRealServers == 0)
    }

    @Test func restartAdoptsWithoutOperations() async throws {
        let sandbox = try AgentSandbox()
        let first = try sandbox.makeAgent()
        let allocated = try await start(first, sandbox, at: .now)
        sandbox.kernel.clearLog()

        let second = try sandbox.makeAgent()
        await second.tick(now: .now)
        #expect(sandbox.kernel.log.isEmpty)
        #expect(sandbox.kernel.entries == exampleTable(allocated: allocated))
        #expect(sandbox.binder.added.count == 2)
        let status = second.status()
        #expect(status.ready)
        #expect(status.virtualServers == 4)
        #expect(status.realServers == 8)
        #expect(try sandbox.savedState()?.clusterIPs["production/backend-api/IPv4"] == allocated.description)
    }

    @Test func restartRestoresAServerLeftAtWeightZero() async throws {
        let sandbox = try AgentSandbox()
        let first = try sandbox.makeAgent()
        let allocated = try await start(first, sandbox, at: .now)
        let metrics = tcp("10.96.100.50", 9090)
        sandbox.kernel.apply([.updateServer(masq("10.244.2.21", 9090, weight: 0), in: metrics)], progress: nil)
        sandbox.kernel.clearLog()

        let second = try sandbox.makeAgent()
        await second.tick(now: .now)
        #expect(sandbox.kernel.log == [.updateServer(masq("10.244.2.21", 9090, weight: 1), in: metrics)])
        #expect(sandbox.kernel.entries == exampleTable(allocated: allocated))
    }
}
