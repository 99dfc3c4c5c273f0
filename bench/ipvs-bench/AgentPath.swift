import IPVS
import ServiceTables
import Synchronization

/// Wraps a kernel and counts what goes through it: reads (any dump or get) and operations applied.
final class CountingKernel: IPVSKernel {
    struct Counts: Sendable {
        var reads = 0
        var operations = 0
    }

    let base: any IPVSKernel
    private let state = Mutex(Counts())

    init(_ base: any IPVSKernel) { self.base = base }

    var counts: Counts { state.withLock { $0 } }

    func reset() { state.withLock { $0 = Counts() } }

    private func read() { state.withLock { $0.reads += 1 } }

    func apply(_ operations: [IPVSOperation], progress: ((Int, Int) -> Void)?) -> BulkApplyResult {
        state.withLock { $0.operations += operations.count }
        return base.apply(operations, progress: progress)
    }

    func applyStreaming(_ body: (ApplyStream) -> Void) -> [AppliedBatch] {
        base.applyStreaming { stream in
            body(stream)
            state.withLock { $0.operations += stream.submitted }
        }
    }

    func services() throws(IPVSError) -> [ObservedVirtualServer] {
        read()
        return try base.services()
    }

    func service(_ id: VirtualServer.ID) throws(IPVSError) -> ObservedVirtualServer {
        read()
        return try base.service(id)
    }

    func servers(of id: VirtualServer.ID) throws(IPVSError) -> [ObservedRealServer] {
        read()
        return try base.servers(of: id)
    }

    func timeouts() throws(IPVSError) -> Timeouts {
        read()
        return try base.timeouts()
    }

    func daemons() throws(IPVSError) -> [SyncDaemon] {
        read()
        return try base.daemons()
    }

    func info() throws(IPVSError) -> IPVSInfo {
        read()
        return try base.info()
    }
}

/// The agent's write path without the actor around it: desired state in, plan, apply, record.
struct AgentPath {
    var state = LoadBalancerState()
    let kernel: any IPVSKernel
    /// false: the whole plan first, then one apply, then one record (the agent before it streamed), for
    /// comparison in the same run.
    var streaming = true

    init(kernel: any IPVSKernel) { self.kernel = kernel }

    /// One sync: `setDesired`, plan the changed IDs (all of them from empty), apply, record; as `ipvsd`
    /// does it: new services first, then the rest applied while it is planned and recorded as it comes back.
    /// - Returns: the number of operations applied.
    @discardableResult
    mutating func sync(_ desired: DesiredState) throws -> Int {
        try apply(state.setDesired(desired))
    }

    /// One sync from a delta (what an event that knows its change hands the core): `updateDesired`, plan,
    /// apply, record.
    @discardableResult
    mutating func sync(delta: [VirtualServer.ID: DesiredVirtualServer?]) throws -> Int {
        try apply(state.updateDesired(delta))
    }

    private mutating func apply(_ changed: Set<VirtualServer.ID>) throws -> Int {
        if !streaming {
            let operations = state.plan(for: changed, now: .now)
            let result = kernel.apply(operations, progress: nil)
            state.record(operations, result: result)
            if let failure = result.failures.first {
                throw BenchError("agent path: \(result.failures.count) operations failed, first: \(failure.error)")
            }
            return operations.count
        }
        var plan = state.beginPlan(for: changed, now: .now)
        let additions = state.plannedAdditions(plan)
        let added = additions.isEmpty ? nil : kernel.apply(additions, progress: nil)
        let refused = added.map { state.record(additions, result: $0) } ?? []
        let rest = state.applyPlan(&plan, to: kernel, skipping: refused)
        let failures = (added?.failures ?? []) + rest.failures
        if let failure = failures.first {
            throw BenchError("agent path: \(failures.count) operations failed, first: \(failure.error)")
        }
        return additions.count + rest.sent.total
    }

    /// A full resync as the agent does it: read every service and each owned one's servers, adopt, plan all.
    /// - Returns: the operations the plan wants (0 when the kernel already matches).
    mutating func resync(now: ContinuousClock.Instant = .now) throws -> [IPVSOperation] {
        let services = try kernel.services()
        var adoption = state.beginAdoption(expecting: services.count)
        for service in services {
            let id = service.virtualServer.id
            state.adopt(service, servers: state.owned.contains(id) ? try kernel.servers(of: id) : nil, into: &adoption)
        }
        state.finishAdoption(adoption)
        return state.plan(for: nil, now: now)
    }
}

/// Reads the whole table the way kube-proxy does on each sync: every service, then each one's servers.
func readWholeTable(_ kernel: any IPVSKernel) throws -> Int {
    var entries = 0
    for service in try kernel.services() {
        entries += 1 + (try kernel.servers(of: service.virtualServer.id)).count
    }
    return entries
}
