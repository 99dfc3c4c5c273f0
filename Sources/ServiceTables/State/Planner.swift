import IPVS

extension LoadBalancerState {
    /// Operations that make the kernel match, for `ids` (nil: every desired or owned id).
    ///
    /// Diffs against the programmed model only, never the kernel. Services that failed before, and
    /// services with a drain that may end by `now`, are always included. Per service: add or update the
    /// service, add or update serving real servers, set leaving ones to weight 0, delete; deletions of whole
    /// services come last. IDs are sorted so plans are deterministic.
    public mutating func plan(for ids: Set<VirtualServer.ID>?, now: ContinuousClock.Instant) -> [IPVSOperation] {
        var cursor = beginPlan(for: ids, now: now)
        var operations: [IPVSOperation] = []
        while planNext(&cursor, into: &operations, atLeast: .max) {}
        return operations
    }

    /// Where a plan made step by step stands (``beginPlan(for:now:)``, then ``planNext(_:into:atLeast:)``).
    public struct PlanCursor: Sendable {
        let targets: [VirtualServer.ID]
        let now: ContinuousClock.Instant
        var position = 0
        /// Deletions of whole services, held back to come after every other operation.
        var serviceDeletions: [IPVSOperation] = []
        var finished = false
    }

    /// Starts a plan that yields its operations in order, a few services at a time (the same operations,
    /// in the same order, as ``plan(for:now:)``), so they can go to the kernel while the rest is planned.
    ///
    /// Recording the outcome of operations already yielded (``record(_:result:)``) between the steps is
    /// allowed: a step plans only services the earlier steps did not touch, and recording touches only the
    /// services of the operations recorded.
    public mutating func beginPlan(for ids: Set<VirtualServer.ID>?, now: ContinuousClock.Instant) -> PlanCursor {
        var targets = ids ?? allKnownIDs
        targets.formUnion(dirty)
        for (id, servers) in drains where servers.values.contains(where: { drainEnded($0, now: now) }) {
            targets.insert(id)
        }
        dirty.subtract(targets)
        return PlanCursor(targets: targets.sorted(), now: now)
    }

    /// Appends the next operations of the plan: services in order until at least `minimum` operations were
    /// appended, then (once every service is planned) the service deletions.
    /// - Returns: false when the plan was already complete (nothing appended).
    public mutating func planNext(
        _ cursor: inout PlanCursor,
        into operations: inout [IPVSOperation],
        atLeast minimum: Int
    ) -> Bool {
        guard !cursor.finished else { return false }
        let start = operations.count
        while cursor.position < cursor.targets.count {
            let id = cursor.targets[cursor.position]
            cursor.position += 1
            planService(id, now: cursor.now, into: &operations, serviceDeletions: &cursor.serviceDeletions)
            if operations.count - start >= minimum { return true }
        }
        operations += cursor.serviceDeletions
        cursor.serviceDeletions = []
        cursor.finished = true
        return true
    }

    private var allKnownIDs: Set<VirtualServer.ID> {
        var ids = Set(desiredState.virtualServers.keys)
        ids.formUnion(owned)
        ids.formUnion(programmed.keys)
        ids.formUnion(conflicts)
        ids.formUnion(strays.keys)
        return ids
    }

    /// Whether a drain may end: its connections are gone or its grace period is over.
    func drainEnded(_ drain: Drain, now: ContinuousClock.Instant) -> Bool {
        drain.connections == 0 || now >= drain.started + settings.gracePeriod
    }

    private mutating func planService(
        _ id: VirtualServer.ID,
        now: ContinuousClock.Instant,
        into operations: inout [IPVSOperation],
        serviceDeletions: inout [IPVSOperation]
    ) {
        if !owned.contains(id), let stray = strays[id] {
            operations += stray.sorted().map { .deleteServer($0, from: id) }
        }
        guard let desired = desiredState.virtualServers[id] else {
            conflicts.remove(id)
            if programmed[id] != nil {
                serviceDeletions.append(.deleteService(id))
            } else {
                // Owned but not in the kernel (it vanished): nothing to delete.
                owned.remove(id)
                drains[id] = nil
            }
            return
        }
        if !owned.contains(id) && foreign.contains(id) {
            conflicts.insert(id)
            return
        }
        conflicts.remove(id)
        let current = programmed[id]
        if current == nil {
            operations.append(.addService(desired.virtualServer))
        } else if current?.virtualServer != desired.virtualServer {
            operations.append(.updateService(desired.virtualServer))
        }
        planServers(of: desired, current: current, now: now, into: &operations)
    }

    private mutating func planServers(
        of desired: DesiredVirtualServer,
        current: ProgrammedService?,
        now: ContinuousClock.Instant,
        into operations: inout [IPVSOperation]
    ) {
        let id = desired.id
        let policy = ServingPolicy(desired, health: health)
        let deleteAtOnce = id.protocolValue == .udp
        var serverIDs = Set(desired.realServers.keys)
        if let current { serverIDs.formUnion(current.realServers.keys) }
        var drainsToStart: [IPVSOperation] = []
        var deletions: [IPVSOperation] = []
        for serverID in serverIDs.sorted() {
            let have = current?.realServers[serverID]
            // A closure literal, not `policy.decide`: the partial application boxed the policy on every call.
            let decision = desired.realServers[serverID].map { policy.decide($0) } ?? .notSelected
            switch decision {
            case .serve(let server), .healthWeightZero(let server):
                endDrain(of: serverID, in: id)
                if have == nil {
                    operations.append(.addServer(server, to: id))
                } else if have != server {
                    operations.append(.updateServer(server, in: id))
                }
            case .healthDelete:
                endDrain(of: serverID, in: id)
                if have != nil { deletions.append(.deleteServer(serverID, from: id)) }
            case .notSelected:
                guard var have else {
                    endDrain(of: serverID, in: id)
                    continue
                }
                if deleteAtOnce {
                    endDrain(of: serverID, in: id)
                    deletions.append(.deleteServer(serverID, from: id))
                    continue
                }
                let drain = drains[id]?[serverID] ?? Drain(started: now)
                drains[id, default: [:]][serverID] = drain
                if drainEnded(drain, now: now) {
                    deletions.append(.deleteServer(serverID, from: id))
                } else if have.weight != 0 {
                    have.weight = 0
                    drainsToStart.append(.updateServer(have, in: id))
                }
            }
        }
        operations += drainsToStart
        operations += deletions
    }

    /// Forgets a drain: the server serves again, or leaves without one.
    mutating func endDrain(of server: RealServer.ID, in id: VirtualServer.ID) {
        // Read first: a mutating `drains[id]?` access makes the table unique (allocating) even to find nothing.
        guard drains[id]?[server] != nil else { return }
        drains[id]?.removeValue(forKey: server)
        if drains[id]?.isEmpty == true { drains[id] = nil }
    }
}

extension VirtualServer.ID {
    /// The protocol of an address-and-port service; nil for a firewall mark (which carries any protocol).
    var protocolValue: IPProtocol? {
        if case .service(let proto, _, _) = self { return proto }
        return nil
    }
}
