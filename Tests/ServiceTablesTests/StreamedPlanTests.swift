import IPVS
import ServiceTables
import Synchronization
import TestSupport
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A fake kernel whose stream applies each submitted step at once, so `applyPlan` records step N's outcome
/// before planning step N+1, as it does while a real kernel works on the batch.
final class SteppingKernel: IPVSKernel {
    let base = FakeIPVSKernel()
    let steps = Mutex(0)

    func applyStreaming(_ body: (ApplyStream) -> Void) -> [AppliedBatch] {
        ApplyStream.applyingAsSubmitted(
            { [self] operations in
                steps.withLock { $0 += 1 }
                return base.apply(operations, progress: nil)
            },
            body
        )
    }

    func apply(_ operations: [IPVSOperation], progress: ((Int, Int) -> Void)?) -> BulkApplyResult {
        base.apply(operations, progress: progress)
    }
    func services() throws(IPVSError) -> [ObservedVirtualServer] { try base.services() }
    func service(_ id: VirtualServer.ID) throws(IPVSError) -> ObservedVirtualServer { try base.service(id) }
    func servers(of id: VirtualServer.ID) throws(IPVSError) -> [ObservedRealServer] { try base.servers(of: id) }
    func timeouts() throws(IPVSError) -> Timeouts { try base.timeouts() }
    func daemons() throws(IPVSError) -> [SyncDaemon] { try base.daemons() }
    func info() throws(IPVSError) -> IPVSInfo { try base.info() }
}

/// `applyPlan` (plan while applying, record as batches return) against `plan` + `apply` + `record`.
@Suite struct StreamedPlanTests {
    /// 60 services of 10 endpoints: more operations than one plan step.
    static func services(dropping dropped: Set<Int> = [], endpoints: Int = 10) -> [DesiredVirtualServer] {
        (1...60).filter { !dropped.contains($0) }.map { n in
            service(serviceID(UInt8(n)), (1...endpoints).map { endpoint(UInt8($0)) })
        }
    }

    /// Both ways over the same changes and the same injected refusals; they must end identical.
    @Test func streamedPlanEndsWhereTheOneShotPlanEnds() {
        var oneShot = Harness()
        var streamed = LoadBalancerState()
        let kernel = SteppingKernel()
        // A service another tool holds (EEXIST, then its real servers are strays) and a refused real server in
        // the middle of the stream.
        let foreign = VirtualServer(id: serviceID(45), scheduler: .roundRobin)
        for fake in [oneShot.kernel, kernel.base] {
            fake.apply([.addService(foreign)], progress: nil)
            fake.clearLog()
            fake.failNext { $0 == .addServer(endpoint(3).realServer, to: serviceID(20)) }
        }
        let rounds = [Self.services(), Self.services(dropping: [2, 30], endpoints: 7), Self.services(dropping: [5])]
        for desired in rounds {
            let changedOneShot = oneShot.state.setDesired(desiredState(desired))
            let changedStreamed = streamed.setDesired(desiredState(desired))
            #expect(changedOneShot == changedStreamed)
            let operations = oneShot.state.plan(for: changedOneShot, now: oneShot.now)
            let result = oneShot.kernel.apply(operations, progress: nil)
            let failedOneShot = oneShot.state.record(operations, result: result)

            var cursor = streamed.beginPlan(for: changedStreamed, now: oneShot.now)
            let applied = streamed.applyPlan(&cursor, to: kernel)
            #expect(applied.sent == OperationTally(operations))
            #expect(applied.sent.total == operations.count)
            #expect(applied.failures.map(\.index) == result.failures.map(\.index))
            #expect(applied.failures.map(\.error) == result.failures.map(\.error))
            #expect(applied.failedIDs == failedOneShot)
            #expect(kernel.base.log == oneShot.kernel.log)
            #expect(streamed.owned == oneShot.state.owned)
            #expect(streamed.conflicts == oneShot.state.conflicts)
            #expect(streamed.programmedCounts == oneShot.state.programmedCounts)
            #expect(streamed.plan(for: nil, now: oneShot.now) == oneShot.state.plan(for: nil, now: oneShot.now))
        }
        #expect(kernel.steps.withLock { $0 } > rounds.count)  // really recorded between steps
        #expect(oneShot.kernel.log.contains(.addServer(endpoint(1).realServer, to: serviceID(45))))
    }

    @Test func newServicesComeFirstAndARefusedOnesServersStayOut() {
        var state = LoadBalancerState()
        let kernel = SteppingKernel()
        let desired = [service(serviceID(1), [endpoint(1), endpoint(2)]), service(serviceID(2), [endpoint(3)])]
        _ = state.setDesired(desiredState(desired))
        var cursor = state.beginPlan(for: nil, now: .now)
        let additions = state.plannedAdditions(cursor)
        #expect(additions == desired.map { .addService($0.virtualServer) })

        kernel.base.failNext { $0 == .addService(desired[0].virtualServer) }
        let refused = state.record(additions, result: kernel.apply(additions, progress: nil))
        #expect(refused == [serviceID(1)])
        kernel.base.clearLog()
        let rest = state.applyPlan(&cursor, to: kernel, skipping: refused)
        // Not added again, and the refused service's two real servers were planned but not sent.
        #expect(kernel.base.log == [.addServer(endpoint(3).realServer, to: serviceID(2))])
        #expect(rest.sent.total == 1 && rest.sent[.addServer] == 1)
        #expect(rest.skipped == 2)
        // It is retried by the next plan, whatever IDs it is given.
        #expect(state.plan(for: [], now: .now).first == .addService(desired[0].virtualServer))
    }
}
