import Agent
import IPVS
import TestSupport
import Testing

/// Services the agent did not create are never touched; cleanup removes only its own.
@Suite struct AgentOwnershipTests {
    /// A service another tool made, with one direct-routing real server.
    private func addForeign(_ id: VirtualServer.ID, to kernel: FakeIPVSKernel) {
        kernel.apply(
            [
                .addService(VirtualServer(id: id, scheduler: .weightedLeastConnection)),
                .addServer(RealServer(address: IPAddress("192.168.7.5")!, port: 80, weight: 3), to: id),
            ],
            progress: nil
        )
    }

    @Test func foreignServicesAreNeverTouched() async throws {
        let sandbox = try AgentSandbox()
        let sameID = tcp("10.96.100.50", 80)
        let otherID = tcp("192.168.50.1", 443)
        addForeign(sameID, to: sandbox.kernel)
        addForeign(otherID, to: sandbox.kernel)
        let foreign = sandbox.kernel.entries.filter { [sameID, otherID].contains($0.key) }
        sandbox.kernel.clearLog()

        let agent = try sandbox.makeAgent()
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        await agent.requestFullResync(at: t0 + .seconds(1) - .milliseconds(500))
        await agent.tick(now: t0 + .seconds(1))
        await agent.tick(now: t0 + .seconds(31))

        #expect(sandbox.kernel.log.count == 9)
        #expect(sandbox.kernel.log.allSatisfy { ![sameID, otherID].contains($0.service) })
        #expect(sandbox.kernel.entries.filter { [sameID, otherID].contains($0.key) } == foreign)
        #expect(sandbox.kernel.entries.count == 5)
        let status = agent.status()
        #expect(status.conflicts == ["10.96.100.50:80/tcp"])
        #expect(status.virtualServers == 3)
        let view = await agent.serviceViews().first { $0.virtualServer == "10.96.100.50:80/tcp" }
        #expect(view?.conflict == true)
        let owned = try #require(try sandbox.savedState()).ownedIDs()
        #expect(owned.count == 3)
        #expect(!owned.contains(sameID) && !owned.contains(otherID))

        // The other tool removes its service: the next full resync programs the desired one.
        sandbox.kernel.apply([.deleteService(sameID)], progress: nil)
        sandbox.kernel.clearLog()
        await agent.requestFullResync(at: t0 + .seconds(32) - .milliseconds(500))
        await agent.tick(now: t0 + .seconds(32))
        #expect(
            Set(sandbox.kernel.log) == [
                .addService(VirtualServer(id: sameID, scheduler: .roundRobin)),
                .addServer(masq("10.244.2.21", 8080, weight: 1), to: sameID),
                .addServer(masq("10.244.2.22", 8080, weight: 1), to: sameID),
            ]
        )
        #expect(agent.status().conflicts.isEmpty)
    }

    /// Another tool creates a service after the agent's last read, then the manifests add the same one: the
    /// agent's add is refused, and its real servers must not land in the other tool's service.
    @Test func refusedNewServiceTakesNoRealServers() async throws {
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        let id = tcp("10.96.77.77", 80)
        addForeign(id, to: sandbox.kernel)
        let foreign = sandbox.kernel.entries[id]
        try sandbox.write(
            ExampleManifests.lateService,
            to: sandbox.manifests + "/late.yaml"
        )
        sandbox.kernel.clearLog()
        await agent.requestReload(at: t0 + .seconds(1) - .milliseconds(500))
        await agent.tick(now: t0 + .seconds(1))
        #expect(sandbox.kernel.log == [.addService(VirtualServer(id: id, scheduler: .roundRobin))])
        #expect(sandbox.kernel.entries[id] == foreign)
        await agent.tick(now: t0 + .seconds(3))
        #expect(sandbox.kernel.entries[id] == foreign)
        #expect(agent.status().conflicts == ["10.96.77.77:80/tcp"])
    }

    @Test func cleanupRemovesOnlyOwnedServicesAndUnbindsAddresses() async throws {
        let sandbox = try AgentSandbox()
        let otherID = tcp("192.168.50.1", 443)
        addForeign(otherID, to: sandbox.kernel)
        let agent = try sandbox.makeAgent()
        await agent.tick(now: .now)
        #expect(sandbox.kernel.entries.count == 5)
        #expect(sandbox.binder.bound.count == 2)

        let deleted = try await agent.cleanup()
        #expect(deleted == 4)
        #expect(Array(sandbox.kernel.entries.keys) == [otherID])
        #expect(sandbox.binder.bound.isEmpty)
        #expect(sandbox.binder.removed.count == 2)
        #expect(try sandbox.savedState()?.owned.isEmpty == true)
    }
}
