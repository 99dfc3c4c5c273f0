import Agent
import Foundation
import IPVS
import Testing

/// Bad manifests never change what is programmed: not after a good load, and not at the very first start.
@Suite struct AgentManifestErrorTests {
    /// The example Services with the production port spelled out, on line 11.
    private let badServices = ExampleManifests.services.replacingOccurrences(
        of: "{name: http, protocol: TCP, port: 80,",
        with: "{name: http, protocol: TCP, port: eighty,"
    )

    private func expectedError(_ sandbox: AgentSandbox) -> String {
        "\(sandbox.servicesFile):11: spec.ports[0].port: must be an integer 1...65535, got \"eighty\""
    }

    @Test func invalidManifestKeepsThePreviousStateUntilFixed() async throws {
        #expect(badServices != ExampleManifests.services)
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        let table = sandbox.kernel.entries
        #expect(table.count == 4)
        sandbox.kernel.clearLog()

        try sandbox.write(badServices, to: sandbox.servicesFile)
        await agent.requestReload(at: t0 + .seconds(1) - .milliseconds(500))
        await agent.tick(now: t0 + .seconds(1))
        #expect(sandbox.kernel.log.isEmpty)
        #expect(sandbox.kernel.entries == table)
        var status = agent.status()
        #expect(status.manifestErrors == [expectedError(sandbox)])
        #expect(status.ready)
        #expect(status.virtualServers == 4)

        // A full resync while the manifests are bad still repairs toward the last good state only.
        await agent.tick(now: t0 + .seconds(31))
        #expect(sandbox.kernel.log.isEmpty)

        try sandbox.write(ExampleManifests.services, to: sandbox.servicesFile)
        await agent.requestReload(at: t0 + .seconds(32) - .milliseconds(500))
        await agent.tick(now: t0 + .seconds(32))
        status = agent.status()
        #expect(status.manifestErrors.isEmpty)
        #expect(sandbox.kernel.log.isEmpty)
        #expect(sandbox.kernel.entries == table)
    }

    @Test func invalidManifestAtFirstStartProgramsAndDeletesNothing() async throws {
        let sandbox = try AgentSandbox()
        // Left by an earlier run: in the kernel and in the state file, no longer in the manifests.
        let stale = tcp("10.96.0.99", 80)
        let staleServer = masq("10.244.9.9", 8080, weight: 1)
        sandbox.kernel.apply(
            [.addService(VirtualServer(id: stale, scheduler: .roundRobin)), .addServer(staleServer, to: stale)],
            progress: nil
        )
        var state = AgentState()
        state.setOwned([stale])
        try sandbox.saveState(state)
        sandbox.kernel.clearLog()
        try sandbox.write(badServices, to: sandbox.servicesFile)

        let agent = try sandbox.makeAgent()
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        await agent.tick(now: t0 + .seconds(31))
        #expect(sandbox.kernel.log.isEmpty)
        #expect(Array(sandbox.kernel.entries.keys) == [stale])
        #expect(sandbox.binder.added.isEmpty)
        let status = agent.status()
        #expect(status.ready == false)
        #expect(status.manifestErrors == [expectedError(sandbox)])
        #expect(try sandbox.savedState()?.ownedIDs() == [stale])

        // Fixed: the examples are programmed and the stale owned service goes.
        try sandbox.write(ExampleManifests.services, to: sandbox.servicesFile)
        await agent.requestReload(at: t0 + .seconds(32) - .milliseconds(500))
        await agent.tick(now: t0 + .seconds(32))
        #expect(sandbox.kernel.log.contains(.deleteService(stale)))
        #expect(sandbox.kernel.entries[stale] == nil)
        #expect(sandbox.kernel.entries.count == 4)
        #expect(agent.status().ready)
        #expect(try sandbox.savedState()?.ownedIDs().contains(stale) == false)
    }
}
