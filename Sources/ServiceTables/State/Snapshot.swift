import IPVS

/// The admin view of one virtual server: desired against programmed, and each real server's state.
public struct VirtualServerSnapshot: Sendable, Hashable {
    public var id: VirtualServer.ID
    /// Nil for an owned virtual server that is no longer desired.
    public var origin: ServiceOrigin?
    public var desired: VirtualServer?
    public var programmed: VirtualServer?
    /// Desired, but a foreign service with this ID holds the kernel entry.
    public var conflict: Bool
    /// Sorted by id.
    public var realServers: [RealServerSnapshot]

    public init(
        id: VirtualServer.ID,
        origin: ServiceOrigin?,
        desired: VirtualServer?,
        programmed: VirtualServer?,
        conflict: Bool,
        realServers: [RealServerSnapshot]
    ) {
        self.id = id
        self.origin = origin
        self.desired = desired
        self.programmed = programmed
        self.conflict = conflict
        self.realServers = realServers
    }
}

/// The admin view of one real server.
public struct RealServerSnapshot: Sendable, Hashable {
    public enum State: String, Sendable {
        /// In the kernel as desired.
        case serving
        /// At weight 0 (or about to be), waiting for its connections to end.
        case draining
        /// Out of the kernel or at weight 0 because its health checks fail.
        case healthFailed = "health-failed"
        /// Its endpoint conditions exclude it, and it is not in the kernel.
        case notReady = "not-ready"
        /// Should serve, but the kernel does not hold it as desired yet.
        case pending
    }

    public var id: RealServer.ID
    public var state: State
    public var desiredWeight: UInt32?
    /// Nil when not in the kernel.
    public var programmedWeight: UInt32?
    public var conditions: EndpointConditions?
    /// Nil without health checks.
    public var health: HealthStatus?
    public var drainingFor: Duration?
    public var target: String

    public init(
        id: RealServer.ID,
        state: State,
        desiredWeight: UInt32? = nil,
        programmedWeight: UInt32? = nil,
        conditions: EndpointConditions? = nil,
        health: HealthStatus? = nil,
        drainingFor: Duration? = nil,
        target: String = ""
    ) {
        self.id = id
        self.state = state
        self.desiredWeight = desiredWeight
        self.programmedWeight = programmedWeight
        self.conditions = conditions
        self.health = health
        self.drainingFor = drainingFor
        self.target = target
    }
}

extension LoadBalancerState {
    /// The admin view: every desired, owned or conflicting virtual server, sorted by id.
    public func snapshot(now: ContinuousClock.Instant) -> [VirtualServerSnapshot] {
        var ids = Set(desiredState.virtualServers.keys)
        ids.formUnion(owned)
        ids.formUnion(programmed.keys)
        return ids.sorted().map { id in
            let desired = desiredState.virtualServers[id]
            let current = programmed[id]
            var serverIDs = Set<RealServer.ID>()
            if let desired { serverIDs.formUnion(desired.realServers.keys) }
            if let current { serverIDs.formUnion(current.realServers.keys) }
            let policy = desired.map { ServingPolicy($0, health: health) }
            let servers = serverIDs.sorted().map { serverID in
                realServerSnapshot(
                    serverID,
                    in: id,
                    desired: desired,
                    policy: policy,
                    programmed: current?.realServers[serverID],
                    now: now
                )
            }
            return VirtualServerSnapshot(
                id: id,
                origin: desired?.origin,
                desired: desired?.virtualServer,
                programmed: current?.virtualServer,
                conflict: conflicts.contains(id),
                realServers: servers
            )
        }
    }

    private func realServerSnapshot(
        _ id: RealServer.ID,
        in service: VirtualServer.ID,
        desired: DesiredVirtualServer?,
        policy: ServingPolicy?,
        programmed: RealServer?,
        now: ContinuousClock.Instant
    ) -> RealServerSnapshot {
        let endpoint = desired?.realServers[id]
        var snapshot = RealServerSnapshot(
            id: id,
            state: .pending,
            desiredWeight: endpoint?.realServer.weight,
            programmedWeight: programmed?.weight,
            conditions: endpoint?.conditions,
            health: desired?.healthCheck.map { healthStatus(of: HealthTarget(realServer: id, spec: $0)) },
            target: endpoint?.target ?? ""
        )
        if let drain = drains[service]?[id] {
            snapshot.state = .draining
            snapshot.drainingFor = now - drain.started
            return snapshot
        }
        guard let endpoint, let policy else {
            // In the kernel, no longer desired: the next plan drains or deletes it.
            snapshot.state = .draining
            return snapshot
        }
        switch policy.decide(endpoint) {
        case .serve(let server):
            snapshot.state = programmed == server ? .serving : .pending
        case .healthDelete, .healthWeightZero:
            snapshot.state = .healthFailed
        case .notSelected:
            snapshot.state = programmed == nil ? .notReady : .draining
        }
        return snapshot
    }
}
