import IPVS

/// The load balancer's tables: what is desired, what the agent believes the kernel holds for the services
/// it owns, health, drains and ownership. A pure value: no I/O and no clock (time is passed in).
///
/// The agent keeps one inside an actor: `setDesired`/`setHealth` return the virtual servers to re-plan,
/// `plan(for:now:)` diffs them against the programmed model without reading the kernel, and `record` folds
/// what the kernel accepted back in. A full resync reads the kernel and calls `adopt` before `plan(for: nil)`.
public struct LoadBalancerState: Sendable {
    /// What the agent believes one owned service holds in the kernel.
    struct ProgrammedService: Sendable, Hashable {
        var virtualServer: VirtualServer
        var realServers: ProgrammedServers
    }

    /// A real server at weight 0 waiting for its connections to end.
    struct Drain: Sendable, Hashable {
        var started: ContinuousClock.Instant
        /// Active plus inactive connections last reported; nil until the first report.
        var connections: UInt64?
    }

    public let settings: LoadBalancerSettings
    /// Virtual servers this agent created and may change or delete; everything else is foreign.
    public internal(set) var owned: Set<VirtualServer.ID>
    /// Desired virtual servers left alone because a foreign service with the same ID is in the kernel.
    public internal(set) var conflicts: Set<VirtualServer.ID> = []

    var desiredState = DesiredState()
    var programmed: [VirtualServer.ID: ProgrammedService] = [:]
    /// Services in the kernel that are not owned, as of the last `adopt` (or a refused add).
    var foreign: Set<VirtualServer.ID> = []
    /// Services to re-plan whatever the caller asks for: failed operations, repairs found by `adopt`.
    var dirty: Set<VirtualServer.ID> = []
    var drains: [VirtualServer.ID: [RealServer.ID: Drain]] = [:]
    /// Real servers a batch put into a foreign service after its addService was refused: taken out again.
    var strays: [VirtualServer.ID: Set<RealServer.ID>] = [:]
    var health: [HealthTarget: HealthStatus] = [:]
    var targetIndex: [HealthTarget: Set<HealthReference>] = [:]
    /// Keys of `targetIndex` added and removed since ``takeHealthTargetChanges()``.
    var targetChanges = HealthTargetChanges()
    var masquerade: MasqueradeIndex
    /// Counts the desired state's changes to ``masquerade``: a rebuild made elsewhere is installed only when
    /// nothing changed since it began (``install(_:)``).
    var masqueradeGeneration = 0

    /// - Parameters:
    ///   - owned: the services the agent owned when it last ran (its state file); `adopt` confirms them.
    public init(settings: LoadBalancerSettings = .init(), owned: Set<VirtualServer.ID> = []) {
        self.settings = settings
        self.owned = owned
        self.masquerade = MasqueradeIndex(mode: settings.masquerade)
    }

    public var desired: DesiredState { desiredState }

    /// Replaces the desired state; returns the IDs that changed (added, removed or modified).
    public mutating func setDesired(_ state: DesiredState) -> Set<VirtualServer.ID> {
        var changed = Set<VirtualServer.ID>()
        for (id, next) in state.virtualServers where desiredState.virtualServers[id] != next {
            changed.insert(id)
        }
        for id in desiredState.virtualServers.keys where state.virtualServers[id] == nil {
            changed.insert(id)
        }
        for id in changed {
            if let old = desiredState.virtualServers[id] {
                unindexHealth(of: old)
                masquerade.remove(old)
            }
            if let new = state.virtualServers[id] {
                indexHealth(of: new)
                masquerade.insert(new)
            }
            masqueradeGeneration += 1
        }
        if changed.count > desiredState.virtualServers.count / 2 {
            desiredState = state
        } else {
            // Unchanged services keep the values the programmed model shares (a reload that changes little
            // would otherwise leave the model holding every old table beside the new one).
            for id in changed { desiredState.virtualServers[id] = state.virtualServers[id] }
            desiredState.healthCheckNodePorts = state.healthCheckNodePorts
        }
        // Statuses of targets nobody uses any more would only grow the table.
        if health.count > targetIndex.count {
            health = health.filter { targetIndex[$0.key] != nil }
        }
        return changed
    }

    /// Applies a delta to the desired state: each entry replaces one virtual server, or removes it when nil.
    /// Costs O(entries) where `setDesired` compares every service; returns the IDs that actually changed.
    public mutating func updateDesired(_ changes: [VirtualServer.ID: DesiredVirtualServer?]) -> Set<VirtualServer.ID> {
        var changed = Set<VirtualServer.ID>()
        var unindexed: [HealthTarget] = []
        for (id, next) in changes {
            precondition(next.map { $0.id == id } ?? true, "desired virtual server \(id) filed under another ID")
            let old = desiredState.virtualServers[id]
            guard old != next else { continue }
            if let old {
                unindexed += unindexHealth(of: old)
                masquerade.remove(old)
            }
            if let next {
                indexHealth(of: next)
                masquerade.insert(next)
            }
            masqueradeGeneration += 1
            desiredState.virtualServers[id] = next
            changed.insert(id)
        }
        for target in unindexed where targetIndex[target] == nil { health[target] = nil }
        return changed
    }

    /// Targets the prober must check, deduplicated across virtual servers, with the pairs using each.
    public var healthTargets: [HealthTarget: Set<HealthReference>] { targetIndex }

    /// The masquerade rules of the desired state under ``LoadBalancerSettings/masquerade``; nil for `none`.
    public var masqueradeRules: MasqueradeRules? { masquerade.rules }

    /// A rebuild of the masquerade index from the desired state alone, for a whole write, that runs anywhere:
    /// it is O(real servers) (100,000 at 10k Services x 10), so the agent runs it on the write's own thread
    /// rather than on its actor, from the desired state as it is now (a copy-on-write share, not a copy).
    /// ``install(_:)`` puts the result in place.
    public func masqueradeRebuilder() -> @Sendable () -> RebuiltMasquerade {
        let (mode, state, generation) = (masquerade.mode, desiredState, masqueradeGeneration)
        return { RebuiltMasquerade(index: MasqueradeIndex(mode: mode, state: state), generation: generation) }
    }

    /// Installs a rebuilt masquerade index; pending changes are dropped, since the whole write carries them.
    /// - Returns: false when the desired state changed since the rebuild began: the index is then rebuilt from
    ///   the desired state here, and rules written from `rebuilt` are stale (write them whole again).
    public mutating func install(_ rebuilt: RebuiltMasquerade) -> Bool {
        guard rebuilt.generation == masqueradeGeneration else {
            masquerade = MasqueradeIndex(mode: masquerade.mode, state: desiredState)
            return false
        }
        masquerade = rebuilt.index
        return true
    }

    /// Whether the incremental masquerade index agrees with the desired state: a full resync's check of the
    /// bookkeeping (O(cluster) in memory, no kernel), so a mistake in it cannot outlive the next full resync.
    public func masqueradeIndexMatchesDesired() -> Bool {
        masquerade.sameElements(as: MasqueradeIndex(mode: masquerade.mode, state: desiredState))
    }

    /// The masquerade elements that appeared and disappeared since the last call.
    public mutating func takeMasqueradeChanges() -> (removed: MasqueradeRules, added: MasqueradeRules) {
        masquerade.takeChanges()
    }

    /// The targets that appeared in and disappeared from ``healthTargets`` since the last call.
    public mutating func takeHealthTargetChanges() -> HealthTargetChanges {
        defer { targetChanges = HealthTargetChanges() }
        return targetChanges
    }

    /// The target's status; `.unknown` (which serves) until the prober reports.
    public func healthStatus(of target: HealthTarget) -> HealthStatus {
        health[target] ?? HealthStatus()
    }

    /// Records a target's new status; returns the virtual servers whose serving set may change.
    public mutating func setHealth(_ status: HealthStatus, for target: HealthTarget) -> Set<VirtualServer.ID> {
        guard let references = targetIndex[target] else { return [] }
        let before = health[target]?.mayServe ?? true
        health[target] = status
        guard before != status.mayServe else { return [] }
        return Set(references.map(\.virtualServer))
    }

    /// Virtual servers with draining real servers: the agent reads their connection counts periodically.
    public var drainingServices: Set<VirtualServer.ID> { Set(drains.keys) }

    /// Real servers in a drain (weight 0 in the kernel, waiting for their connections to end): O(services
    /// with a drain).
    public var drainingRealServerCount: Int { drains.values.reduce(0) { $0 + $1.count } }

    /// The earliest instant at which a drain's grace period ends (the agent wakes then), or nil.
    public var nextDrainDeadline: ContinuousClock.Instant? {
        drains.values.lazy.flatMap(\.values).map(\.started).min().map { $0 + settings.gracePeriod }
    }

    /// How many services and real servers the agent believes it has in the kernel, for metrics.
    public var programmedCounts: (services: Int, realServers: Int) {
        (programmed.count, programmed.values.reduce(0) { $0 + $1.realServers.count })
    }

    /// Everything owned, for `ipvsd cleanup`: a delete for every owned service (its servers go with it).
    public func cleanupPlan() -> [IPVSOperation] {
        owned.sorted().map { .deleteService($0) }
    }

    private mutating func indexHealth(of service: DesiredVirtualServer) {
        guard let spec = service.healthCheck else { return }
        for id in service.realServers.keys {
            let reference = HealthReference(virtualServer: service.id, realServer: id)
            let target = HealthTarget(realServer: id, spec: spec)
            if targetIndex[target] == nil { targetChanges.add(target) }
            targetIndex[target, default: []].insert(reference)
        }
    }

    /// Returns the targets the service used.
    @discardableResult
    private mutating func unindexHealth(of service: DesiredVirtualServer) -> [HealthTarget] {
        guard let spec = service.healthCheck else { return [] }
        var targets: [HealthTarget] = []
        for id in service.realServers.keys {
            let target = HealthTarget(realServer: id, spec: spec)
            targetIndex[target]?.remove(HealthReference(virtualServer: service.id, realServer: id))
            if targetIndex[target]?.isEmpty == true {
                targetIndex[target] = nil
                targetChanges.remove(target)
            }
            targets.append(target)
        }
        return targets
    }
}
