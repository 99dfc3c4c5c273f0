import Agent
import Foundation
import KubernetesAPI
import KubernetesManifests
import KubernetesStandIn
import Logging
import Metrics
import Testing

/// `ipvsd_kubernetes_event_to_kernel_seconds`: one observation per watch event whose changes reached the
/// kernel; none for the initial lists or for an event that changes nothing. Counts only, never durations.
@Suite(.serialized) struct AgentKubernetesEventMetricTests {
    @Test func oneWatchEventThatReachesTheKernelIsObservedOnce() async throws {
        let server = try await StandInAPIServer(pki: try StandInPKI.make())
        server.apply(.services, StandInObjects.service("web", clusterIP: "10.96.7.1"))
        server.apply(
            .endpointSlices,
            StandInObjects.slice("web-a", service: "web", addresses: ["10.7.0.1"], port: 8080)
        )
        let sandbox = try AgentSandbox(watching: server)
        let metrics = AgentMetrics()
        let agent = try sandbox.makeAgent(metrics: metrics)
        let source = try sandbox.source(feeding: agent)
        let task = Task { await source.run() }
        defer { task.cancel() }
        func count() -> String? {
            metrics.registry.emitToString().split(separator: "\n")
                .first { $0.hasPrefix("ipvsd_kubernetes_event_to_kernel_seconds_count") }
                .map { String($0.split(separator: " ").last ?? "") }
        }

        try await until("ready") {
            await agent.tick(now: .now + .seconds(1))
            return await agent.isReady
        }
        try await until("watching") { server.openWatches == 2 }
        #expect(count() == nil || count() == "0", "the initial lists are not watch events")

        // The same slice again (a new resourceVersion, the same endpoints) changes nothing: not observed.
        server.apply(
            .endpointSlices,
            StandInObjects.slice("web-a", service: "web", addresses: ["10.7.0.1"], port: 8080)
        )
        server.apply(
            .endpointSlices,
            StandInObjects.slice("web-a", service: "web", addresses: ["10.7.0.1", "10.7.0.2"], port: 8080)
        )
        sandbox.kernel.clearLog()
        try await until("the new endpoint is programmed") {
            await agent.tick(now: .now + .seconds(1))
            return !sandbox.kernel.log.isEmpty
        }
        #expect(count() == "1")
        // Later syncs observe nothing more.
        await agent.tick(now: .now + .seconds(2))
        #expect(count() == "1")
        task.cancel()
        await task.value
        await source.client.shutdown()
        await server.shutdown()
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
