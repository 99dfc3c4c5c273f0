import Foundation
import IPVS
import ServiceTables
import Synchronization
import Testing

@testable import Agent

/// Health events change the serving set; kernel failures are reported and retried with backoff.
@Suite struct AgentHealthAndRetryTests {
    /// The default check (TCP connect) of one production endpoint.
    private func target(_ address: String) -> HealthTarget {
        HealthTarget(realServer: rs(address, 8080), spec: HealthCheckSpec())
    }

    @Test func healthDownDeletesTheServerAndUpReturnsIt() async throws {
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        let published = Mutex<Set<HealthTarget>>([])
        await agent.setHealthTargetHandler { changes in
            published.withLock {
                $0.subtract(changes.removed)
                $0.formUnion(changes.added)
            }
        }
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        let allocated = try #require(try sandbox.savedState()?.clusterIPs.values.first.flatMap { IPAddress($0) })
        let production = VirtualServer.ID.service(.tcp, allocated, port: 80)
        // Two production backends on 8080, two default ones on each of 8080, 9090 and 50051.
        #expect(published.withLock { $0.count } == 8)
        #expect(published.withLock { $0.contains(target("10.244.1.11")) })
        sandbox.kernel.clearLog()

        await agent.healthChanged(
            target("10.244.1.11"),
            HealthStatus(state: .down, lastResult: "connection refused", since: .seconds(1), consecutive: 3),
            at: t0 + .seconds(1) - .milliseconds(500)
        )
        await agent.tick(now: t0 + .seconds(1))
        #expect(sandbox.kernel.log == [.deleteServer(rs("10.244.1.11", 8080), from: production)])
        let view = await agent.healthViews().first { $0.target == "tcp 10.244.1.11:8080" }
        #expect(view?.state == "down")
        #expect(view?.lastResult == "connection refused")
        #expect(view?.usedBy == ["\(production) -> 10.244.1.11:8080"])

        // With the monitor attached, the view shows its live count and time base, not the transition's.
        let live = HealthStatus(state: .down, lastResult: "timeout", since: .seconds(1), consecutive: 7)
        await agent.setLiveHealthSource { (.seconds(11), [target("10.244.1.11"): live]) }
        let liveView = await agent.healthViews().first { $0.target == "tcp 10.244.1.11:8080" }
        #expect(liveView?.consecutive == 7)
        #expect(liveView?.lastResult == "timeout")
        #expect(liveView?.sinceSeconds == 10)

        sandbox.kernel.clearLog()
        await agent.healthChanged(
            target("10.244.1.11"),
            HealthStatus(state: .up, lastResult: "ok", consecutive: 2),
            at: t0 + .seconds(2) - .milliseconds(500)
        )
        await agent.tick(now: t0 + .seconds(2))
        #expect(sandbox.kernel.log == [.addServer(masq("10.244.1.11", 8080, weight: 1), to: production)])
        #expect(sandbox.kernel.entries[production]?.servers.count == 2)
    }

    /// The sync loop's ticks leave a manifest load running: a backend that fails while a large file is
    /// parsed is taken out at once, not after the parse; the load's own changes follow when it ends, and a
    /// full resync waits for it.
    @Test func healthIsSyncedWhileAManifestLoadRuns() async throws {
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        let allocated = try #require(try sandbox.savedState()?.clusterIPs.values.first.flatMap { IPAddress($0) })
        let production = VirtualServer.ID.service(.tcp, allocated, port: 80)
        let parsed = await agent.manifestFilesParsed
        let fullBefore = await agent.lastFullSync?.at
        // A 32 MiB comment (about a second to parse in a debug build) and a new Service beside it.
        try sandbox.write("# " + String(repeating: "x", count: 32 << 20) + "\n", to: sandbox.manifests + "/big.yaml")
        try sandbox.write(ExampleManifests.lateService, to: sandbox.manifests + "/late.yaml")
        sandbox.kernel.clearLog()
        await agent.requestReload(full: true, at: t0 + .seconds(1))
        await agent.requestFullResync(at: t0 + .seconds(1))
        await agent.tick(now: t0 + .seconds(1), waitForReload: false)
        #expect(await agent.reloading != nil, "the load was left running")

        await agent.healthChanged(
            target("10.244.1.11"),
            HealthStatus(state: .down, lastResult: "connection refused", since: .seconds(1), consecutive: 3),
            at: t0 + .seconds(1)
        )
        await agent.tick(now: t0 + .seconds(2), waitForReload: false)
        let stillLoading = await agent.reloading != nil
        #expect(stillLoading, "the load outlived the health sync (else this test proves nothing)")
        #expect(sandbox.kernel.log == [.deleteServer(rs("10.244.1.11", 8080), from: production)])
        #expect(await agent.lastFullSync?.at == fullBefore, "the full resync waits for the load")

        await agent.reloading?.value
        #expect(await agent.manifestFilesParsed > parsed)
        // The load's end is marked pending at the real time: tick past its debounce.
        await agent.tick(now: .now + .seconds(1), waitForReload: false)
        #expect(sandbox.kernel.entries[tcp("10.96.77.77", 80)]?.servers.count == 1, "the load's Service arrived")
        #expect(await agent.lastFullSync?.at != fullBefore, "and the full resync ran after it")
        #expect(await agent.reloading == nil)
    }

    /// A due full resync is not put off by the file watcher's reloads: it runs first, and the reload starts
    /// after it in the same tick.
    @Test func aDueResyncGoesBeforeAWatcherReload() async throws {
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        let fullBefore = await agent.lastFullSync?.at
        try sandbox.write(ExampleManifests.lateService, to: sandbox.manifests + "/late.yaml")
        await agent.requestReload(at: t0 + .seconds(1))
        await agent.requestFullResync(at: t0 + .seconds(1))
        await agent.tick(now: t0 + .seconds(2), waitForReload: false)
        #expect(await agent.lastFullSync?.at != fullBefore, "the resync ran")
        let reload = try #require(await agent.reloading, "and the reload started after it")
        await reload.value
        // The load's end is marked pending at the real time: tick past its debounce.
        await agent.tick(now: .now + .seconds(1), waitForReload: false)
        #expect(sandbox.kernel.entries[tcp("10.96.77.77", 80)]?.servers.count == 1, "the reload's Service arrived")
    }

    @Test func everyBackendDownKeepsThemAll() async throws {
        let sandbox = try AgentSandbox()
        let agent = try sandbox.makeAgent()
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        let allocated = try #require(try sandbox.savedState()?.clusterIPs.values.first.flatMap { IPAddress($0) })
        let production = VirtualServer.ID.service(.tcp, allocated, port: 80)
        await agent.healthChanged(
            target("10.244.1.11"),
            HealthStatus(state: .down),
            at: t0 + .seconds(1) - .milliseconds(500)
        )
        await agent.tick(now: t0 + .seconds(1))
        sandbox.kernel.clearLog()

        // keep-all (the default): with both down, the failing checks are distrusted and both serve.
        await agent.healthChanged(
            target("10.244.1.12"),
            HealthStatus(state: .down),
            at: t0 + .seconds(2) - .milliseconds(500)
        )
        await agent.tick(now: t0 + .seconds(2))
        #expect(sandbox.kernel.log == [.addServer(masq("10.244.1.11", 8080, weight: 1), to: production)])
        #expect(sandbox.kernel.entries[production]?.servers.count == 2)
    }

    @Test func kernelFailureIsReportedAndRetriedWithBackoff() async throws {
        let sandbox = try AgentSandbox()
        let metrics = tcp("10.96.100.50", 9090)
        let agent = try sandbox.makeAgent()
        sandbox.kernel.failNext { $0 == .addService(VirtualServer(id: metrics, scheduler: .roundRobin)) }

        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        // The add failed, so its two real servers were not sent.
        #expect(sandbox.kernel.entries.count == 3)
        var status = agent.status()
        #expect(status.lastError == "1 of 12 operations failed (2 more skipped with the services refused)")
        #expect(status.lastSync?.failures == 1)
        #expect(status.ready == false)

        // Within the first backoff (1 s, counted from the failing tick) nothing is attempted; the retry fails
        // again and doubles it.
        sandbox.kernel.clearLog()
        await agent.tick(now: t0 + .milliseconds(999))
        #expect(sandbox.kernel.log.isEmpty)
        sandbox.kernel.failNext { $0 == .addService(VirtualServer(id: metrics, scheduler: .roundRobin)) }
        await agent.tick(now: t0 + .seconds(1))
        #expect(sandbox.kernel.log == [.addService(VirtualServer(id: metrics, scheduler: .roundRobin))])
        #expect(agent.status().lastError == "1 of 3 operations failed (2 more skipped with the services refused)")

        sandbox.kernel.clearLog()
        await agent.tick(now: t0 + .milliseconds(2999))
        #expect(sandbox.kernel.log.isEmpty)
        await agent.tick(now: t0 + .seconds(3))
        #expect(
            Set(sandbox.kernel.log) == [
                .addService(VirtualServer(id: metrics, scheduler: .roundRobin)),
                .addServer(masq("10.244.2.21", 9090, weight: 1), to: metrics),
                .addServer(masq("10.244.2.22", 9090, weight: 1), to: metrics),
            ]
        )
        status = agent.status()
        #expect(status.lastError == nil)
        #expect(status.ready)
        #expect(sandbox.kernel.entries.count == 4)
    }

    @Test func addressFailureIsReportedAndRetried() async throws {
        let sandbox = try AgentSandbox()
        let vip = IPAddress("10.96.100.50")!
        sandbox.binder.failNextAdd(of: vip)
        let agent = try sandbox.makeAgent()
        await agent.tick(now: .now)
        let after = ContinuousClock.now
        var status = agent.status()
        #expect(status.lastError == "bind 10.96.100.50: cannot add 10.96.100.50: operation not permitted")
        #expect(status.ready == false)
        #expect(!sandbox.binder.bound.contains(vip))
        // The IPVS table itself was written; only the address is missing.
        #expect(sandbox.kernel.entries.count == 4)

        sandbox.kernel.clearLog()
        await agent.tick(now: after + .seconds(1))
        #expect(sandbox.binder.bound.contains(vip))
        #expect(sandbox.kernel.log.isEmpty)
        status = agent.status()
        #expect(status.lastError == nil)
        #expect(status.ready)
    }
}
