import Agent
import Foundation
import IPVS
import Logging
import ServiceTables
import Synchronization
import Testing

/// An in-memory ``PacketFilter``: every table written, updated or removed, and a failure on demand.
final class FakePacketFilter: PacketFilter {
    private struct State {
        var applied: [MasqueradeRules] = []
        var updates: [(removing: MasqueradeRules, adding: MasqueradeRules)] = []
        var removals = 0
        var failNext = false
        var failNextUpdate = false
        var lost = false
        var checks = 0
    }

    private let state = Mutex(State())
    var applied: [MasqueradeRules] { state.withLock { $0.applied } }
    var updates: [(removing: MasqueradeRules, adding: MasqueradeRules)] { state.withLock { $0.updates } }
    var removals: Int { state.withLock { $0.removals } }
    func failNext() { state.withLock { $0.failNext = true } }
    /// The next update fails, as when another tool changed the table's sets.
    func failNextUpdate() { state.withLock { $0.failNextUpdate = true } }

    func update(removing: MasqueradeRules, adding: MasqueradeRules) throws(IPVSError) {
        let fail = state.withLock { state in
            if state.failNextUpdate {
                state.failNextUpdate = false
                return true
            }
            state.updates.append((removing, adding))
            return false
        }
        if fail { throw IPVSError(.kernel, "cannot update the sets: libnftables: No such file or directory") }
    }

    /// Called as each whole write ends (on the writer's thread).
    let onApplied = Mutex<(@Sendable () -> Void)?>(nil)

    func apply(_ rules: MasqueradeRules) throws(IPVSError) {
        defer { onApplied.withLock { $0 }?() }
        let fail = state.withLock { state in
            if state.failNext {
                state.failNext = false
                return true
            }
            state.applied.append(rules)
            state.lost = false
            return false
        }
        if fail { throw IPVSError(.kernel, "cannot update nftables table inet ipvsd: libnftables: No such file") }
    }

    func remove() throws(IPVSError) { state.withLock { $0.removals += 1 } }

    /// The table lost its sets or chains since the last write (a ruleset flush).
    func lose() { state.withLock { $0.lost = true } }
    var checks: Int { state.withLock { $0.checks } }

    func holdsLastWrite() throws(IPVSError) -> Bool {
        state.withLock { state in
            state.checks += 1
            return !state.applied.isEmpty && !state.lost
        }
    }
}

/// How the agent keeps its nftables table in step with the desired state, on a fake kernel and filter.
@Suite struct AgentMasqueradeSyncTests {
    func agent(_ sandbox: AgentSandbox, _ filter: FakePacketFilter) throws -> Agent {
        try Agent(
            configuration: sandbox.configuration,
            kernel: sandbox.kernel,
            binder: sandbox.binder,
            packetFilter: filter,
            logger: Logger(label: "agent-tests") { _ in SwiftLogNoOpLogHandler() }
        )
    }

    @Test func writtenWholeFirstCheckedAtFullResyncsRewrittenWhenLostOrFailedRemovedByCleanup() async throws {
        let sandbox = try AgentSandbox()
        let filter = FakePacketFilter()
        let agent = try agent(sandbox, filter)
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        #expect(filter.applied.count == 1)
        let first = try #require(filter.applied.first)
        // Every endpoint of the examples, with its port: 8 real servers.
        #expect(first.hairpin.count == 8 && first.masqueraded.isEmpty)
        #expect(first.hairpin.contains { $0.port == 8080 && $0.proto == .tcp })

        await agent.tick(now: t0 + .seconds(1))
        #expect(filter.applied.count == 1)
        // The periodic full resync checks the table (cheap at any size) and finds it whole: no write.
        await agent.tick(now: t0 + .seconds(31))
        #expect(filter.checks == 1)
        #expect(filter.applied.count == 1 && filter.updates.isEmpty)
        // A ruleset flush took the table: the next full resync writes it whole again.
        filter.lose()
        await agent.tick(now: t0 + .seconds(61))
        #expect(filter.checks == 2)
        #expect(filter.applied.count == 2)
        #expect(filter.applied.last == first)

        filter.lose()
        filter.failNext()
        await agent.requestFullResync(at: t0 + .seconds(62))
        await agent.tick(now: t0 + .seconds(63))
        let status = agent.status(now: t0 + .seconds(63))
        #expect(
            status.lastError?.contains("masquerade (nftables table inet ipvsd)") == true,
            "\(status.lastError ?? "")"
        )
        // The retry (a full resync after the 1 s backoff) writes it again.
        await agent.tick(now: t0 + .seconds(65))
        #expect(filter.applied.count == 3)
        #expect(agent.status(now: t0 + .seconds(65)).lastError == nil)

        _ = try await agent.cleanup()
        #expect(filter.removals == 1)
    }

    /// An endpoint change changes the sets' elements, not the table; a table that drifted is written whole.
    @Test func anEndpointChangeUpdatesOnlyItsElements() async throws {
        let sandbox = try AgentSandbox()
        sandbox.configuration.resyncPeriod = .seconds(3600)
        let filter = FakePacketFilter()
        let agent = try agent(sandbox, filter)
        let t0 = ContinuousClock.now
        await agent.tick(now: t0)
        let first = try #require(filter.applied.first)

        try sandbox.write(ExampleManifests.endpointSlicesWithoutSecondProductionPod, to: sandbox.slicesFile)
        await agent.requestReload(at: t0 + .seconds(1))
        await agent.tick(now: t0 + .seconds(2))
        #expect(filter.applied.count == 1)
        // Exactly the one endpoint's element goes; nothing is added, the rest is untouched.
        let update = try #require(filter.updates.first)
        #expect(update.removing.hairpin.map(\.address) == [IPAddress("10.244.1.12")!])
        #expect(update.removing.hairpin.isSubset(of: first.hairpin) && update.removing.masqueraded.isEmpty)
        #expect(update.adding == MasqueradeRules())

        filter.failNextUpdate()
        try sandbox.write(ExampleManifests.endpointSlices, to: sandbox.slicesFile)
        await agent.requestReload(at: t0 + .seconds(3))
        await agent.tick(now: t0 + .seconds(4))
        #expect(filter.applied.count == 2)
        #expect(filter.applied.last == first)
        #expect(agent.status(now: t0 + .seconds(4)).lastError == nil)
    }

    /// A whole write runs beside the binding and the new services, and ends before any real server is added:
    /// an endpoint picked for its own connection must already be masqueraded.
    @Test func aWholeWriteEndsBeforeTheFirstRealServerIsAdded() async throws {
        let sandbox = try AgentSandbox()
        let filter = FakePacketFilter()
        let kernel = sandbox.kernel
        let seen = Mutex<[Int]>([])
        filter.onApplied.withLock {
            $0 = {
                // A slow write: whatever the sync does meanwhile has had time to happen.
                Thread.sleep(forTimeInterval: 0.2)
                let servers = kernel.log.count { if case .addServer = $0 { true } else { false } }
                seen.withLock { $0.append(servers) }
            }
        }
        let agent = try agent(sandbox, filter)
        await agent.tick(now: .now)
        #expect(filter.applied.count == 1)
        #expect(seen.withLock { $0 } == [0])
        #expect(kernel.log.contains { if case .addServer = $0 { true } else { false } })
    }

    @Test func noneRemovesTheTableAndWritesNothing() async throws {
        let sandbox = try AgentSandbox()
        sandbox.configuration.masquerade = .none
        let filter = FakePacketFilter()
        let agent = try agent(sandbox, filter)
        await agent.tick(now: .now)
        #expect(filter.applied.isEmpty && filter.removals == 1)
        #expect(agent.status().lastError == nil)
    }
}
