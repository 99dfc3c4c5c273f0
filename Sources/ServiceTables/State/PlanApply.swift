import IPVS

/// What applying a plan while it was being made did (``LoadBalancerState/applyPlan(_:to:skipping:keepingServices:)``).
public struct AppliedPlan: Sendable {
    /// How many operations were sent, of each kind. Not the operations: a full sync at 10k Services x 10
    /// sends 110,000, and holding them until it ended cost 17.5 MB (about 160 bytes each) at the first sync's
    /// peak, only to be counted; each batch's operations go once it is recorded.
    public var sent = OperationTally()
    /// The failed ones, each with its operation and its position in the order sent, in order.
    public var failures: [BulkApplyResult.Failure] = []
    /// Services with a failed operation: dirty again, so the next plan retries them.
    public var failedIDs: Set<VirtualServer.ID> = []
    /// Operations planned for the skipped services and not sent, other than adding those services (the
    /// first phase, ``LoadBalancerState/plannedAdditions(_:)``, had them).
    public var skipped = 0

    public init() {}
}

extension LoadBalancerState {
    /// The first phase of a plan: the services it will add, in plan order.
    ///
    /// Add these on their own and ``record(_:result:)`` them before ``applyPlan(_:to:skipping:keepingServices:)``: the rest of
    /// the plan then does not add them again, and the caller can hold back the real servers of a service
    /// the kernel refused (EEXIST: another tool created it since the last read) instead of sending them into
    /// a service that is not ours. The agent also writes these to its intent record before adding them.
    public func plannedAdditions(_ cursor: PlanCursor) -> [IPVSOperation] {
        cursor.targets[cursor.position...].compactMap { id in
            guard programmed[id] == nil, let desired = desiredState.virtualServers[id],
                owned.contains(id) || !foreign.contains(id)
            else { return nil }
            return .addService(desired.virtualServer)
        }
    }

    /// Plans the rest of `cursor` and applies it while planning: each step's operations go to the kernel's
    /// stream (``IPVSKernel/applyStreaming(_:)``) and each finished batch is recorded as it comes back, so
    /// planning and recording overlap the kernel's work instead of adding to it. The outcome is that of
    /// `plan`, `apply` and `record` in a row.
    /// - Parameters:
    ///   - skipped: services whose operations are planned (so drains and conflicts advance as in any plan)
    ///     but not sent; they stay dirty.
    ///   - keepingServices: send nothing for services no longer desired (no deletion, no drain); they stay
    ///     as they are, dirty. The agent holds them when it could not add the new services: a Service whose
    ///     port or address changed is a deletion and an addition, and the deletion alone would take it away.
    public mutating func applyPlan(
        _ cursor: inout PlanCursor,
        to kernel: any IPVSKernel,
        skipping skipped: Set<VirtualServer.ID> = [],
        keepingServices: Bool = false
    ) -> AppliedPlan {
        var outcome = AppliedPlan()
        var step: [IPVSOperation] = []
        var kept = Set<VirtualServer.ID>()
        let rest = kernel.applyStreaming { stream in
            while planNext(&cursor, into: &step, atLeast: Self.planStep) {
                if !skipped.isEmpty || keepingServices {
                    step.removeAll { operation in
                        guard let id = operation.virtualServerID else { return false }
                        // A service no longer desired keeps everything, its real servers' weights included
                        // (a drain would stop its new connections as surely as a deletion).
                        if keepingServices && desiredState.virtualServers[id] == nil {
                            kept.insert(id)
                            outcome.skipped += 1
                            return true
                        }
                        guard skipped.contains(id) else { return false }
                        if case .addService = operation {} else { outcome.skipped += 1 }
                        return true
                    }
                }
                if !step.isEmpty { recordApplied(stream.submit(step), into: &outcome) }
                step.removeAll(keepingCapacity: true)
            }
        }
        recordApplied(rest, into: &outcome)
        dirty.formUnion(skipped)
        dirty.formUnion(kept)
        return outcome
    }

    /// Operations planned per step: enough that handing them over costs little, few enough that the
    /// kernel gets its first batch early.
    static let planStep = 256

    private mutating func recordApplied(_ batches: [AppliedBatch], into outcome: inout AppliedPlan) {
        for batch in batches {
            outcome.failedIDs.formUnion(record(batch.operations, result: batch.result))
            let base = outcome.sent.total
            outcome.sent.add(batch.operations)
            outcome.failures += batch.result.failures.map { failure in
                var failure = failure
                failure.index += base
                return failure
            }
        }
    }
}
