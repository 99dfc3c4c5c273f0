import Agent
import Dispatch
import IPVS
import Synchronization
import TestSupport
import Testing

/// The status, readiness and sync requests answer while a sync holds the agent's actor (AgentBoard): a first
/// sync at cluster scale holds it for minutes in a slow VM.
@Suite struct AgentBoardTests {
    @Test func statusReadinessAndRequestsAnswerWhileASyncHoldsTheAgent() async throws {
        let sandbox = try AgentSandbox()
        let gated = GatedKernel(sandbox.kernel)
        let agent = try sandbox.makeAgent(kernel: gated)
        #expect(agent.status().running == nil)

        gated.hold()
        let first = Task { await agent.tick() }
        gated.waitUntilHeld()
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
}

/// A kernel whose `services()` read can be held on its way in, as a slow full read would hold it.
final class GatedKernel: IPVSKernel, Sendable {
    private let inner: FakeIPVSKernel
    private let armed = Mutex(false)
    private let entered = DispatchSemaphore(value: 0)
    private let gate = DispatchSemaphore(value: 0)

    init(_ inner: FakeIPVSKernel) { self.inner = inner }

    /// The next `services()` call waits for ``release()``.
    func hold() { armed.withLock { $0 = true } }
    func waitUntilHeld() { entered.wait() }
    func release() { gate.signal() }

    func services() throws(IPVSError) -> [ObservedVirtualServer] {
        let wait = armed.withLock { armed in
            defer { armed = false }
            return armed
        }
        if wait {
            entered.signal()
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
