import AgentAPI
import IPVS
import KubernetesAPI
import ServiceTables

/// What the admin API and /metrics show.
extension Agent {
    public static let version = "0.2.0"

    /// Whether the desired state has been programmed since start.
    public var isReady: Bool { ready }

    /// /readyz (AgentBoard.readiness); it never waits for a running sync.
    public nonisolated var readiness: (ready: Bool, reason: String) { board.readiness }

    /// `GET /v1/status` (AgentBoard.status); it never waits for a running sync.
    public nonisolated func status(now: ContinuousClock.Instant = .now) -> AgentStatus { board.status(now: now) }

    /// Mirrors what a sync changed in the programmed tables into the board: counts, draining servers and
    /// conflicts. Called once per sync, not per request.
    func publishTables(counts: (services: Int, realServers: Int)) {
        let draining = core.drainingRealServerCount
        let conflicts = core.conflicts.sorted().map(\.description)
        board.update {
            $0.virtualServers = counts.services
            $0.realServers = counts.realServers
            $0.drainingRealServers = draining
            $0.conflicts = conflicts
        }
    }

    public func serviceViews(now: ContinuousClock.Instant = .now) -> [ServiceView] {
        core.snapshot(now: now).map { service in
            ServiceView(
                virtualServer: service.id.description,
                origin: service.origin?.description ?? "",
                desired: service.desired.map(Self.describe) ?? "",
                programmed: service.programmed.map(Self.describe) ?? "",
                conflict: service.conflict,
                realServers: service.realServers.map { server in
                    RealServerView(
                        address: server.id.description,
                        state: server.state.rawValue,
                        desiredWeight: server.desiredWeight,
                        programmedWeight: server.programmedWeight,
                        conditions: server.conditions.map(Self.describe) ?? "",
                        health: server.health?.state.rawValue ?? "",
                        drainingSeconds: server.drainingFor?.seconds,
                        target: server.target
                    )
                }
            )
        }
    }

    public func healthViews(now: ContinuousClock.Instant = .now) -> [HealthView] {
        let live = liveHealth?()
        let elapsed = live?.now ?? (now - started)
        return core.healthTargets.map { target, references in
            let status = live?.statuses[target] ?? core.healthStatus(of: target)
            return HealthView(
                target: target.description,
                state: status.state.rawValue,
                lastResult: status.lastResult,
                sinceSeconds: max(0, (elapsed - status.since).seconds),
                consecutive: status.consecutive,
                usedBy: references.map { "\($0.virtualServer) -> \($0.realServer)" }.sorted()
            )
        }.sorted { $0.target < $1.target }
    }

    /// What a read of the owned services' kernel counters needs (``KernelStatisticsReader`` reads them off
    /// this actor); nil when `kernelStatistics` is off.
    public func kernelStatisticsScope() -> KernelStatisticsScope? {
        guard configuration.kernelStatistics else { return nil }
        return KernelStatisticsScope(
            kernel: kernel,
            owned: core.owned,
            desired: core.desired.virtualServers,
            realServers: core.programmedCounts.realServers
        )
    }

    static func describe(_ server: VirtualServer) -> String {
        var text = server.scheduler.rawValue
        if server.isPersistent { text += " persistent \(server.timeout)" }
        return text
    }

    static func describe(_ conditions: EndpointConditions) -> String {
        var words: [String] = []
        if conditions.ready { words.append("ready") }
        if conditions.serving { words.append("serving") }
        if conditions.terminating { words.append("terminating") }
        return words.joined(separator: ",")
    }
}

extension VirtualServer.ID {
    /// The service as ipvsadm's arguments, for the fixes log messages suggest: `-t 10.0.0.1:80`.
    var ipvsadmArguments: String {
        switch self {
        case .service(let proto, let address, let port):
            let host = address.family == .inet6 ? "[\(address)]" : "\(address)"
            let option =
                switch proto {
                case .udp: "-u"
                case .sctp: "--sctp-service"
                default: "-t"
                }
            return "\(option) \(host):\(port)"
        case .firewallMark(let mark, let family):
            return family == .inet ? "-f \(mark)" : "-f \(mark) -6"
        }
    }
}

extension Agent {
    static func view(_ status: ResourceStatus) -> KubernetesResourceStatus {
        KubernetesResourceStatus(
            resource: status.resource.rawValue,
            state: status.state.rawValue,
            synced: status.synced,
            resourceVersion: status.resourceVersion,
            watchRestarts: status.watchRestarts,
            relists: status.relists,
            apiErrors: status.apiErrors,
            rejectedObjects: status.rejectedObjects,
            lastError: status.lastError
        )
    }
}
