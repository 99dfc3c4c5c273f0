import Agent
import Foundation
import IPVS
import KubernetesAPI
import KubernetesManifests
import KubernetesStandIn
import KubernetesWire
import Logging
import Metrics
import ServiceTables
import Synchronization
import Testing

/// The agent fed by the Kubernetes API source (a stand-in server), programming the fake kernel.
@Suite(.serialized) struct AgentKubernetesTests {
    @Test func aRelistAfterGoneCostsNoKernelOperationAndOneSliceChangeCostsItsOwn() async throws {
        let server = try await StandInAPIServer(pki: try StandInPKI.make())
        for index in 1...3 {
            server.apply(.services, StandInObjects.service("s\(index)", clusterIP: "10.96.8.\(index)"))
            server.apply(
                .endpointSlices,
                StandInObjects.slice(
                    "s\(index)-a",
                    service: "s\(index)",
                    addresses: ["10.8.\(index).1", "10.8.\(index).2"],
                    port: 8080
                )
            )
        }
        let sandbox = try AgentSandbox(watching: server)
        let agent = try sandbox.makeAgent()
        var limits = APILimits()
        limits.initialBackoff = .milliseconds(10)
        let source = try sandbox.source(feeding: agent, limits: limits)
        agent.setKubernetesStatusSource { source.statuses }
        let task = Task { await source.run() }
        defer { task.cancel() }

        // Nothing touches the kernel before both lists arrived; then one sync programs them.
        try await until("ready") {
            await agent.tick(now: .now + .seconds(1))
            return await agent.isReady
        }
        #expect(sandbox.kernel.entries.count == 3)
        #expect(
            sandbox.kernel.entries[tcp("10.96.8.2", 80)]?.servers.map(\.id) == [
                rs("10.8.2.1", 8080), rs("10.8.2.2", 8080),
            ]
        )
        let status = agent.status()
        #expect(status.kubernetes.map(\.resource) == ["services", "endpointslices"])
        #expect(status.kubernetes.allSatisfy { $0.synced })
        #expect(status.manifests == "Kubernetes API")

        sandbox.kernel.clearLog()
        try await until("watching") { server.openWatches == 2 }
        server.compact()
        server.dropWatches()
        try await until("relisted") {
            let statuses = source.statuses
            return statuses.allSatisfy { $0.relists == 1 && $0.state == .watching } && server.openWatches == 2
        }
        for _ in 0..<3 { await agent.tick(now: .now + .seconds(1)) }
        #expect(sandbox.kernel.log.isEmpty, "a relist of unchanged objects wrote \(sandbox.kernel.log)")

        server.apply(
            .endpointSlices,
            StandInObjects.slice("s2-a", service: "s2", addresses: ["10.8.2.1", "10.8.2.2", "10.8.2.3"], port: 8080)
        )
        try await until("the new endpoint is programmed") {
            await agent.tick(now: .now + .seconds(1))
            return !sandbox.kernel.log.isEmpty
        }
        #expect(sandbox.kernel.log == [.addServer(masq("10.8.2.3", 8080, weight: 1), to: tcp("10.96.8.2", 80))])
        task.cancel()
        await task.value
        await source.client.shutdown()
        await server.shutdown()
    }

    /// The name table (DNS, `ipvsctl explain`) follows the API source too, headless Services included, whose
    /// endpoint changes touch no virtual server.
    @Test func namesFollowTheAPISource() async throws {
        let server = try await StandInAPIServer(pki: try StandInPKI.make())
        server.apply(.services, StandInObjects.service("web", clusterIP: "10.96.9.1"))
        server.apply(.services, StandInObjects.service("db", clusterIP: "None"))
        server.apply(.endpointSlices, StandInObjects.slice("db-a", service: "db", addresses: ["10.9.0.1"], port: 5432))
        let sandbox = try AgentSandbox(watching: server)
        let agent = try sandbox.makeAgent()
        let tables = TableLog()
        await agent.setNameHandler { table in tables.tables.withLock { $0.append(table) } }
        let source = try sandbox.source(feeding: agent)
        await agent.setKubernetesNamesSource { await source.names(ifNewerThan: $0) }
        let task = Task { await source.run() }
        defer { task.cancel() }
        func entry(_ name: String) -> ServiceNameTable.Entry? {
            tables.tables.withLock { $0.last?.entries.first { $0.name == name } }
        }
        try await until("names published") {
            await agent.tick(now: .now + .seconds(1))
            return entry("db") != nil
        }
        #expect(entry("web")?.clusterIPs == [IPAddress("10.96.9.1")!])
        #expect(entry("db")?.headless == true)
        #expect(entry("db")?.endpointAddresses == [IPAddress("10.9.0.1")!])

        server.apply(
            .endpointSlices,
            StandInObjects.slice("db-a", service: "db", addresses: ["10.9.0.1", "10.9.0.2"], port: 5432)
        )
        try await until("the headless Service's new endpoint is named") {
            await agent.tick(now: .now + .seconds(1))
            return entry("db")?.endpointAddresses.count == 2
        }
        task.cancel()
        await task.value
        await source.client.shutdown()
        await server.shutdown()
    }

    /// The sync loop wakes for an event that comes in while it sleeps: with a periodic tick of an hour, the
    /// first lists and then one slice change still reach the kernel, each at its debounce end. (Without the
    /// wake-up the loop would sleep until its planned tick, an hour away, and this would time out.)
    @Test func theSyncLoopWakesForAnEventInsteadOfWaitingForItsTick() async throws {
        let server = try await StandInAPIServer(pki: try StandInPKI.make())
        server.apply(.services, StandInObjects.service("web", clusterIP: "10.96.8.20"))
        server.apply(
            .endpointSlices,
            StandInObjects.slice("web-a", service: "web", addresses: ["10.8.20.1"], port: 8080)
        )
        let sandbox = try AgentSandbox(watching: server)
        let agent = try sandbox.makeAgent()
        let source = try sandbox.source(feeding: agent)
        let sourceTask = Task { await source.run() }
        let loopTask = Task { try await SyncLoop(agent: agent, tickInterval: .seconds(3600)).run() }

        let vip = tcp("10.96.8.20", 80)
        // Read while the loop syncs: the service can be there before its real server.
        try await until("the first lists are programmed") {
            sandbox.kernel.entries.count == 1 && sandbox.kernel.entries[vip]?.servers.count == 1
        }
        #expect(sandbox.kernel.entries[vip]?.servers.map(\.id) == [rs("10.8.20.1", 8080)])
        try await until("watching") { server.openWatches == 2 }
        server.apply(
            .endpointSlices,
            StandInObjects.slice("web-a", service: "web", addresses: ["10.8.20.1", "10.8.20.2"], port: 8080)
        )
        try await until("the slice change is programmed") { sandbox.kernel.entries[vip]?.servers.count == 2 }
        loopTask.cancel()
        sourceTask.cancel()
        _ = try? await loopTask.value
        await sourceTask.value
        await source.client.shutdown()
        await server.shutdown()
    }

    final class TableLog: Sendable {
        let tables = Mutex<[ServiceNameTable]>([])
    }

    /// Polls `condition` every 20 ms for at most 60 s (a hang guard, not a timing under test).
    private func until(_ what: String, _ condition: () async -> Bool) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if await condition() { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("timed out waiting until \(what)")
        throw StandInError("timed out waiting until \(what)")
    }
}
