import IPVS
import KubernetesManifests
import KubernetesWire
import Logging
import Metrics
import ServiceTables

/// The Kubernetes API as a source of desired state: one watcher per resource feeding one `ClusterState`,
/// and a delta per update for the agent's `updateDesired`.
///
/// Nothing is delivered until both resources have been listed once (a Service must not be programmed
/// without its endpoints and then again with them); the first delivery holds every Service, and each later
/// one only what an update touched. A failure never delivers anything: what was held stays.
public actor KubernetesSource {
    /// Receives each delta; `initial` is true for the first, complete one.
    public typealias Delivery =
        @Sendable (_ changes: [VirtualServer.ID: DesiredVirtualServer?], _ initial: Bool) async -> Void
    /// Receives the healthCheckNodePorts this node answers, whenever they change (before the delta that
    /// changed them).
    public typealias HealthCheckNodePortsDelivery = @Sendable (_ answers: [UInt16: HealthCheckNodePort]) async -> Void

    public let client: APIClient
    private let proxyName: String?
    private let logger: Logger
    private let deliver: Delivery
    private let deliverHealthCheckNodePorts: HealthCheckNodePortsDelivery?
    private var deliveredHealthCheckNodePorts: [UInt16: HealthCheckNodePort]?
    private let cells: [APIResource: StatusCell]
    private var state: ClusterState
    private var listed: Set<APIResource> = []
    /// Services the pages of a list still running touched (``ResourceUpdate/page(_:)``): the list's end
    /// delivers them, as it would had the pages come with it.
    private var earlyAffected: Set<ObjectKey> = []
    private var delivered = false
    /// The Node's zone being read (``run()``): what is built depends on it, so updates wait for it.
    private var zoneRead: Task<String?, Never>?

    /// - Parameters:
    ///   - proxyName: the `service.kubernetes.io/service-proxy-name` this proxy claims; nil for kube-proxy's
    ///     default (Services with the label are skipped).
    ///   - healthCheckNodePorts: receives the healthCheckNodePort answers when they change.
    public init(
        client: APIClient,
        options: TranslationOptions,
        proxyName: String? = nil,
        logger: Logger,
        metricsFactory: any MetricsFactory,
        healthCheckNodePorts: HealthCheckNodePortsDelivery? = nil,
        deliver: @escaping Delivery
    ) {
        self.client = client
        self.deliverHealthCheckNodePorts = healthCheckNodePorts
        self.proxyName = proxyName
        self.logger = logger
        self.deliver = deliver
        self.state = ClusterState(options: options)
        var cells: [APIResource: StatusCell] = [:]
        for resource in APIResource.allCases { cells[resource] = StatusCell(resource, factory: metricsFactory) }
        self.cells = cells
    }

    /// Each resource's status, in `APIResource.allCases` order.
    public nonisolated var statuses: [ResourceStatus] { APIResource.allCases.map { cells[$0]!.current } }

    /// The Services and EndpointSlices held now.
    public func objects() -> ManifestSet { state.objects }

    /// The name table and its version, unless it is still `version` (each rebuild keeps its Services'
    /// entries, so an event costs one entry, and an unchanged table costs nothing to ask for).
    public func names(ifNewerThan version: Int) -> (version: Int, table: ServiceNameTable)? {
        state.namesVersion == version ? nil : (state.namesVersion, state.names)
    }

    /// Why some Services' virtual servers are not desired (build errors, conflicts), by Service.
    public var problems: [ObjectKey: String] { state.problems }

    /// Lists and watches both resources until cancelled. The Node's zone is read beside the first lists'
    /// requests; their pages are applied once it is known.
    public func run() async {
        let zone = Task { await readZone(retryingFor: Self.zoneRetryPeriod) }
        zoneRead = zone
        await withTaskCancellationHandler {
            await withDiscardingTaskGroup { group in
                for resource in APIResource.allCases {
                    let watcher = watcher(for: resource)
                    group.addTask { await watcher.run() }
                }
            }
        } onCancel: {
            zone.cancel()
        }
    }

    /// Lists both resources once and returns the desired state they describe (`ipvsd check`).
    /// - Returns: the state; the objects and Services that failed; and what the Node's zone label gave, when
    ///   it was read (not a failure: without it zone hints are off).
    /// - Throws: the first failed request.
    public func listOnce() async throws(KubernetesAPIError) -> (
        state: DesiredState, problems: [String], notes: [String]
    ) {
        let notes = await readZone().map { [$0] } ?? []
        var problems: [String] = []
        for resource in APIResource.allCases {
            let (objects, _) = try await watcher(for: resource).listAll()
            _ = state.apply(.listed(objects), of: resource)
            for object in objects {
                if case .failure(let errors) = object.value { problems += errors.errors.map(\.description) }
            }
        }
        var desired = DesiredState()
        for case (let id, .some(let virtualServer)) in state.rebuild(state.serviceKeys) {
            desired.virtualServers[id] = virtualServer
        }
        problems += state.problems.sorted { $0.key < $1.key }.map { "\($0.key): \($0.value)" }
        return (desired, problems, notes)
    }

    /// How long `run` retries the Node's GET when the server cannot be reached or fails (5xx, 429) before it
    /// lists without a zone: about what kube-proxy waits for its Node at start (30 s). Such a server would fail
    /// the lists too, which then report it in the status; a refusal (403, 404) is not retried.
    static let zoneRetryPeriod: Duration = .seconds(30)

    /// This node's zone as kube-proxy takes it: the `topology.kubernetes.io/zone` label of its Node object,
    /// read once, beside the first lists (``receive`` waits for it), when the config names a node and no zone. Without one, zone hints
    /// are not used (every serving endpoint is), as kube-proxy does for a node without the label; a failure
    /// is logged and is never fatal.
    /// - Parameter period: how long an unreachable or failing server is retried (with the watchers' backoff).
    /// - Returns: what was found, as logged (`ipvsd check` prints it); nil when the Node was not asked for, or
    ///   the read was cancelled.
    @discardableResult
    private func readZone(retryingFor period: Duration = .zero) async -> String? {
        let node = state.options.nodeName
        guard state.options.zone.isEmpty, !node.isEmpty else { return nil }
        let giveUp = ContinuousClock.now + period
        var backoff = Backoff(initial: client.limits.initialBackoff, maximum: client.limits.maxBackoff)
        while true {
            do throws(KubernetesAPIError) {
                return try await readZone(of: node)
            } catch {
                // Stopping (SIGTERM, or a start that failed): nothing was learnt, and nothing is wrong with the Node.
                if Task.isCancelled { return nil }
                let transient = [.connection, .server, .tooManyRequests].contains(error.code)
                let delay = ResourceWatcher.delay(for: error, backoff: &backoff)
                if transient, ContinuousClock.now + delay < giveUp, !Task.isCancelled {
                    logger.notice(
                        "cannot read this node's Node object yet; retrying",
                        metadata: ["node": "\(node)", "error": "\(error)", "retry_in_ms": "\(delay.milliseconds)"]
                    )
                    try? await Task.sleep(for: delay)
                    continue
                }
                let message =
                    "cannot read this node's zone from its Node object; zone hints are not used (the config's zone sets one)"
                logger.warning("\(message)", metadata: ["node": "\(node)", "error": "\(error)"])
                return "Node \(node): \(message): \(error)"
            }
        }
    }

    /// One GET of `node`: sets the zone from its label when it has one.
    private func readZone(of node: String) async throws(KubernetesAPIError) -> String {
        guard let zone = try APIPayloads.nodeZone(try await client.node(named: node)) else {
            let message = "Node \(node) has no \(APIPayloads.zoneLabel) label; zone hints are not used"
            logger.notice("\(message)")
            return message
        }
        state.useZone(zone)
        logger.info("zone from this node's Node object", metadata: ["node": "\(node)", "zone": "\(zone)"])
        return "zone \(zone), from the \(APIPayloads.zoneLabel) label of Node \(node)"
    }

    private func watcher(for resource: APIResource) -> ResourceWatcher {
        ResourceWatcher(
            resource: resource,
            client: client,
            proxyName: proxyName,
            status: cells[resource]!,
            logger: logger,
            deliver: { [weak self] update in await self?.receive(update, of: resource) }
        )
    }

    func receive(_ update: ResourceUpdate, of resource: APIResource) async {
        _ = await zoneRead?.value
        var affected = state.apply(update, of: resource)
        if case .page = update {
            // A first list's page: held and built now, delivered with the first delivery (or, should the
            // other resource be listed already and this one be starting over, with the list's end).
            earlyAffected.formUnion(affected)
            state.prebuild(affected)
            return
        }
        if case .listed = update {
            listed.insert(resource)
            affected.formUnion(earlyAffected)
            earlyAffected = []
        }
        guard listed.count == APIResource.allCases.count else { return }
        let initial = !delivered
        let keys = initial ? state.serviceKeys : affected
        guard !keys.isEmpty || initial else { return }
        let began = ContinuousClock.now
        let changes = state.rebuild(keys)
        if initial {
            logger.info(
                "Services built from the first lists",
                metadata: [
                    "services": "\(keys.count)", "virtual_servers": "\(changes.count)",
                    "duration_ms": "\((ContinuousClock.now - began).milliseconds)",
                ]
            )
        }
        delivered = true
        if let deliverHealthCheckNodePorts {
            let answers = state.healthCheckNodePorts
            if answers != deliveredHealthCheckNodePorts {
                deliveredHealthCheckNodePorts = answers
                await deliverHealthCheckNodePorts(answers)
            }
        }
        await deliver(changes, initial)
    }
}
