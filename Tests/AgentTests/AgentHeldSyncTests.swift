import Agent
import Dispatch
import IPVS
import Logging
import Synchronization
import TestSupport
import Testing

/// What happens while a sync holds the agent's actor, the kernel read held on its way in (GatedKernel): the
/// status, readiness and sync requests answer (AgentBoard; a first sync at cluster scale holds the actor for
/// minutes in a slow VM), and a whole nftables write goes on beside the read.
///
/// Serialized, and the tests wait without blocking a thread: a held read blocks one thread of Swift's
/// cooperative pool, which has only two on a 2-core machine.
@Suite(.serialized) struct AgentHeldSyncTests {
    @Test func statusReadinessAndRequestsAnswerWhileASyncHoldsTheAgent() async throws {
        let sandbox = try AgentSandbox()
        let gated = GatedKernel(sandbox.kernel)
        let agent = try sandbox.makeAgent(kernel: gated)
        #expect(agent.status().running == nil)

        gated.hold()
        let first = Task { await agent.tick() }
        try await gated.waitUntilHeld()
        // The first full sync is inside the kernel read, on the actor.
        let during = agent.status()
        #expect(during.running?.kind == "full")
        #expect(during.running?.step == "reading the kernel")
        #expect(!during.ready)
        #expect(agent.readiness == (false, "desired state not programmed yet"))
        agent.board.requestSync(reload: false)
        gated.release()
        await first.value

        let after = agent.status()
        #expect(after.running == nil)
        #expect(after.ready)
        #expect(after.virtualServers == sandbox.kernel.entries.count)
        #expect(after.virtualServers > 0)
        #expect(after.lastFullSync != nil)
        #expect(agent.readiness.ready)

        // The resync asked for during the first sync is taken by the next tick: one more kernel read.
        let reads = sandbox.kernel.readCount
        await agent.tick()
        #expect(sandbox.kernel.readCount > reads)
        // And only once.
        let readsAfter = sandbox.kernel.readCount
        await agent.tick()
        #expect(sandbox.kernel.readCount == readsAfter)
    }

    /// A full sync's whole write does not wait for the kernel read (the rules come from the desired state
    /// alone): it is done while the read is still held.
    @Test func aWholeWriteRunsBesideTheKernelRead() async throws {
        let sandbox = try AgentSandbox()
        let filter = FakePacketFilter()
        let gated = GatedKernel(sandbox.kernel)
        let agent = try Agent(
            configuration: sandbox.configuration,
            kernel: gated,
            binder: sandbox.binder,
            packetFilter: filter,
            logger: Logger(label: "agent-tests") { _ in SwiftLogNoOpLogHandler() }
        )
        gated.hold()
        let tick = Task { await agent.tick() }
        try await gated.waitUntilHeld()
        let deadline = ContinuousClock.now + .seconds(30)
        while filter.applied.isEmpty && ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
        #expect(filter.applied.count == 1, "the whole write waited for the kernel read")
        gated.release()
        await tick.value
        #expect(filter.applied.count == 1)
        #expect(agent.status().ready)
    }
}

/// A kernel whose `services()` read can be held on its way in, as a slow full read would hold it.
final class GatedKernel: IPVSKernel, Sendable {
    private let inner: FakeIPVSKernel
    private let armed = Mutex(false)
    private let entered = Mutex(false)
    private let gate = DispatchSemaphore(value: 0)

    init(_ inner: FakeIPVSKernel) { self.inner = inner }

    /// The next `services()` call waits for ``release()``.
    func hold() { armed.withLock { $0 = true } }
    /// Polls (without blocking a thread) until the held call has begun.
    func waitUntilHeld() async throws {
        while !entered.withLock({ $0 }) { try await Task.sleep(for: .milliseconds(5)) }
    }
    func release() { gate.signal() }

    func services() throws(IPVSError) -> [ObservedVirtualServer] {
        let wait = armed.withLock { armed in
            defer { armed = false }
            return armed
        }
        if wait {
            entered.withLock { $0 = true }
            gate.wait()
        }
        return try inner.services()
    }

    func apply(_ operations: [IPVSOperation], progress: ((Int, Int) -> Void)?) -> BulkApplyResult {
        inner.apply(operations, progress: progress)
    }
    func service(_ id: VirtualServer.ID) throws(IPVSError) -> ObservedVirtualServer { try inner.service(id) }
    func servers(of id: VirtualServer.ID) throws(IPVSError) -> [ObservedRealServer] { try inner.servers(of: id) }
    func timeouts() throws(IPVSError) -> Timeouts { try inner.timeouts() }
    func daemons() throws(IPVSError) -> [SyncDaemon] { try inner.daemons() }
    func info() throws(IPVSError) -> IPVSInfo { try inner.info() }
}
