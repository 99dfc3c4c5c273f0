import IPVS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension LoadBalancerState {
    /// Full-resync input: replaces the programmed model of owned services with what the kernel holds.
    ///
    /// - Parameters:
    ///   - services: every service in the kernel, owned or not; those not owned are foreign.
    ///   - servers: real servers of each owned service that exists (the agent reads only those). An owned
    ///     service missing here keeps the real servers the model had.
    ///
    /// Owned services that vanished from the kernel are forgotten (the next plan re-adds them if desired).
    /// Every service whose model changed is re-planned by the next `plan`, whatever IDs it is given.
    public mutating func adopt(
        services: [ObservedVirtualServer],
        servers: [VirtualServer.ID: [ObservedRealServer]],
        claiming claims: Set<VirtualServer.ID> = []
    ) {
        var adoption = beginAdoption(expecting: services.count, claiming: claims)
        for observed in services {
            adopt(observed, servers: servers[observed.virtualServer.id], into: &adoption)
        }
        finishAdoption(adoption)
    }

    /// A full resync in steps: `beginAdoption`, `adopt(_:servers:into:)` for every service in the kernel,
    /// then `finishAdoption`. The agent reads each owned service's real servers just before adopting it,
    /// so the whole table's real servers are never in memory at once. Stopping before the finish (a read
    /// failed) leaves the services adopted so far updated and nothing forgotten.
    public struct Adoption: Sendable {
        var present: Set<VirtualServer.ID>
        var foreign = Set<VirtualServer.ID>()
        /// Services to take as owned when found: the caller has evidence that the agent created them.
        let claimSet: Set<VirtualServer.ID>
        /// The claims that were found and taken.
        public internal(set) var claimed = Set<VirtualServer.ID>()

        /// Whether the caller claims `id` (the agent then reads its real servers, as for an owned service).
        public func claims(_ id: VirtualServer.ID) -> Bool { claimSet.contains(id) }
    }

    /// - Parameter claims: services not in `owned` that the agent has evidence of having created (an intent
    ///   record written before a crash, or its own VIP); found in the kernel, they become owned. Everything
    ///   else not owned stays foreign.
    public func beginAdoption(expecting count: Int = 0, claiming claims: Set<VirtualServer.ID> = []) -> Adoption {
        Adoption(present: Set(minimumCapacity: count), claimSet: claims)
    }

    /// One service of the kernel's listing, with its real servers when the agent owns it (else nil).
    public mutating func adopt(
        _ observed: ObservedVirtualServer,
        servers list: [ObservedRealServer]?,
        into adoption: inout Adoption
    ) {
        let id = observed.virtualServer.id
        adoption.present.insert(id)
        if !owned.contains(id) && adoption.claimSet.contains(id) {
            owned.insert(id)
            foreign.remove(id)
            conflicts.remove(id)
            adoption.claimed.insert(id)
            dirty.insert(id)
        }
        guard owned.contains(id) else {
            adoption.foreign.insert(id)
            return
        }
        var entry = ProgrammedService(
            virtualServer: observed.virtualServer,
            realServers: programmed[id]?.realServers ?? ProgrammedServers()
        )
        if let list {
            entry.realServers = ProgrammedServers(list.map(\.realServer))
            _ = updateConnections(of: id, servers: list)
        }
        if let desired = desiredState.virtualServers[id] { entry.realServers.share(desired.realServers) }
        if programmed[id] != entry { dirty.insert(id) }
        // Also when equal: the entry may share the desired storage where the old one held a copy.
        programmed[id] = entry
    }

    /// Forgets owned services the listing did not have and takes its foreign services as the new set.
    public mutating func finishAdoption(_ adoption: Adoption) {
        for id in strays.keys where !adoption.present.contains(id) { strays[id] = nil }
        for id in owned where !adoption.present.contains(id) {
            forget(id)
            dirty.insert(id)
        }
        dirty.formUnion(adoption.foreign.symmetricDifference(foreign))
        foreign = adoption.foreign
    }

    /// New connection counts of a service's real servers; returns the id when a drain may finish.
    ///
    /// A draining server missing from `servers` is gone from the kernel already, and is forgotten.
    public mutating func updateConnections(
        of id: VirtualServer.ID,
        servers: [ObservedRealServer]
    ) -> Set<VirtualServer.ID> {
        guard let draining = drains[id] else { return [] }
        var mayFinish = false
        var seen = 0
        for server in servers {
            guard var drain = draining[server.realServer.id] else { continue }
            seen += 1
            drain.connections = UInt64(server.activeConnections) + UInt64(server.inactiveConnections)
            drains[id]?[server.realServer.id] = drain
            if drain.connections == 0 { mayFinish = true }
        }
        if seen < draining.count {
            let present = Set(servers.map(\.realServer.id))
            for serverID in draining.keys where !present.contains(serverID) {
                endDrain(of: serverID, in: id)
                programmed[id]?.realServers[serverID] = nil
                mayFinish = true
            }
        }
        return mayFinish ? [id] : []
    }

    /// Applies what the kernel accepted to the programmed model; returns the IDs whose operations failed.
    ///
    /// Failed operations are not applied; their services stay dirty so the next `plan` retries them. What a
    /// failure proves is learnt, though: a missing service or real server (ESRCH, ENOENT) leaves the model,
    /// and a service another program added first (EEXIST) becomes foreign, so a retry does not repeat it.
    /// Real servers the same batch added to that foreign service are taken out again by the next plan.
    @discardableResult
    public mutating func record(_ operations: [IPVSOperation], result: BulkApplyResult) -> Set<VirtualServer.ID> {
        var failed = Set<VirtualServer.ID>()
        var errors: [Int: IPVSError] = [:]
        for failure in result.failures { errors[failure.index] = failure.error }
        // Plans group operations by service: each service's model is compared with its desired state once
        // its operations are applied, without collecting the IDs.
        var previous: VirtualServer.ID?
        for (index, operation) in operations.enumerated() {
            let id = operation.virtualServerID
            if let previous, previous != id { shareDesiredStorage(previous) }
            previous = id
            if let error = errors[index] {
                if let id {
                    failed.insert(id)
                    learn(from: error, of: operation, in: id)
                }
            } else {
                apply(operation)
            }
        }
        if let previous { shareDesiredStorage(previous) }
        dirty.formUnion(failed)
        return failed
    }

    /// Lets a service's programmed servers share the desired table when they are exactly its endpoints.
    private mutating func shareDesiredStorage(_ id: VirtualServer.ID) {
        guard let desired = desiredState.virtualServers[id], let index = programmed.index(forKey: id) else { return }
        programmed.values[index].realServers.share(desired.realServers)
    }

    private mutating func apply(_ operation: IPVSOperation) {
        switch operation {
        case .addService(let service):
            owned.insert(service.id)
            foreign.remove(service.id)
            programmed[service.id] = ProgrammedService(
                virtualServer: service,
                realServers: programmed[service.id]?.realServers ?? ProgrammedServers()
            )
        case .updateService(let service):
            programmed[service.id]?.virtualServer = service
        case .deleteService(let id):
            forget(id)
        case .addServer(let server, let id) where !owned.contains(id):
            strays[id, default: []].insert(server.id)
        case .addServer(let server, let id), .updateServer(let server, let id):
            // In place through `values[index]`: mutating through `programmed[id]?` allocated on every call.
            guard let index = programmed.index(forKey: id) else { return }
            programmed.values[index].realServers[server.id] = server
        case .deleteServer(let server, let id):
            if let index = programmed.index(forKey: id) { programmed.values[index].realServers[server] = nil }
            endDrain(of: server, in: id)
            removeStray(server, from: id)
        case .zero, .flush, .setTimeouts, .startDaemon, .stopDaemon:
            break
        }
    }

    private mutating func learn(from error: IPVSError, of operation: IPVSOperation, in id: VirtualServer.ID) {
        switch (operation, error.errno) {
        case (.addService, EEXIST) where !owned.contains(id):
            foreign.insert(id)
        case (.updateService, ESRCH), (.deleteService, ESRCH), (.addServer, ESRCH), (.updateServer, ESRCH),
            (.deleteServer, ESRCH):
            forget(id)
        case (.updateServer(let server, _), ENOENT):
            programmed[id]?.realServers[server.id] = nil
        case (.deleteServer(let server, _), ENOENT):
            programmed[id]?.realServers[server] = nil
            endDrain(of: server, in: id)
            removeStray(server, from: id)
        default:
            break
        }
    }

    /// Drops a service that is no longer in the kernel from the model and from `owned`.
    private mutating func forget(_ id: VirtualServer.ID) {
        owned.remove(id)
        programmed[id] = nil
        drains[id] = nil
        strays[id] = nil
    }

    private mutating func removeStray(_ server: RealServer.ID, from id: VirtualServer.ID) {
        guard strays[id]?.contains(server) == true else { return }  // read first, as in endDrain
        strays[id]?.remove(server)
        if strays[id]?.isEmpty == true { strays[id] = nil }
    }
}

extension IPVSOperation {
    /// The virtual server an operation changes; nil for global operations.
    /// The virtual server the operation changes; nil for the global ones.
    public var virtualServerID: VirtualServer.ID? {
        switch self {
        case .addService(let service), .updateService(let service): service.id
        case .deleteService(let id), .addServer(_, let id), .updateServer(_, let id), .deleteServer(_, let id): id
        case .zero(let id): id
        case .flush, .setTimeouts, .startDaemon, .stopDaemon: nil
        }
    }
}
