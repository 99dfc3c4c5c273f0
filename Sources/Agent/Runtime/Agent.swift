import IPVS
import KubernetesManifests
import LoadBalancer
import Logging

/// The agent's state and its syncs: desired state from the manifests, the load-balancer core, and the
/// kernel. One actor, so every change to the core is serialised; the loops around it (``SyncLoop``,
/// the manifest watcher, the health monitor) only call into it.
public actor Agent {
    public let configuration: AgentConfiguration
    let kernel: any IPVSKernel
    let binder: (any AddressBinder)?
    let stateFile: AgentStateFile
    let logger: Logger
    let metrics: AgentMetrics
    let started = ContinuousClock.now
    let translation: TranslationOptions

    var core: LoadBalancerState
    var persisted: AgentState
    var manifestErrors: [String] = []
    var hasDesiredState = false
    var ready = false
    var lastSync: SyncReportValue?
    var lastFullSync: SyncReportValue?
    var lastError: String?
    /// Addresses known to be on the interface; refreshed from the kernel at each full sync.
    var boundAddresses: Set<IPAddress> = []
    /// Called with the deduplicated health targets whenever they change.
    var onHealthTargets: (@Sendable (Set<HealthTarget>) -> Void)?
    var lastHealthTargets: Set<HealthTarget> = []
    /// The health monitor's live view (statuses and its clock now), for the admin API; the core only
    /// keeps each target's status as of its last transition.
    var liveHealth: (@Sendable () -> (now: Duration, statuses: [HealthTarget: HealthStatus]))?

    // Scheduling state, read by ``tick(now:)``.
    var dirty: Set<VirtualServer.ID> = []
    var pendingSince: ContinuousClock.Instant?
    var reloadRequested = true
    var fullResyncRequested = true
    var nextFullResync: ContinuousClock.Instant
    var nextDrainCheck: ContinuousClock.Instant
    var retryAt: ContinuousClock.Instant?
    var retryBackoff: Duration = .seconds(1)

    /// - Throws: ``AgentError`` when the state file cannot be read or the config is invalid.
    public init(
        configuration: AgentConfiguration,
        kernel: any IPVSKernel,
        binder: (any AddressBinder)?,
        logger: Logger,
        metrics: AgentMetrics = AgentMetrics()
    ) throws(AgentError) {
        self.configuration = configuration
        self.kernel = kernel
        self.binder = binder
        self.logger = logger
        self.metrics = metrics
        self.stateFile = AgentStateFile(path: configuration.stateFile)
        self.translation = try TranslationOptions(configuration)
        let persisted = try stateFile.load()
        self.persisted = persisted
        self.core = LoadBalancerState(
            settings: LoadBalancerSettings(gracePeriod: configuration.gracePeriod),
            owned: try persisted.ownedIDs()
        )
        self.nextFullResync = started
        self.nextDrainCheck = started
    }

    /// Sets the function that receives the health targets (the health monitor's `setTargets`).
    public func setHealthTargetHandler(_ handler: @escaping @Sendable (Set<HealthTarget>) -> Void) {
        onHealthTargets = handler
        handler(lastHealthTargets)
    }

    /// Sets where the admin API reads the checks' live statuses (the health monitor).
    public func setLiveHealthSource(
        _ source: @escaping @Sendable () -> (now: Duration, statuses: [HealthTarget: HealthStatus])
    ) {
        liveHealth = source
    }

    // MARK: Events

    /// The manifests changed (file watcher, SIGHUP or the admin API): reload at the next tick.
    public func requestReload() {
        reloadRequested = true
        markPending()
    }

    /// Asks for a full resync (read the kernel, repair drift) at the next tick.
    public func requestFullResync() {
        fullResyncRequested = true
        markPending()
    }

    /// A health target changed state.
    public func healthChanged(_ target: HealthTarget, _ status: HealthStatus) {
        let changed = core.setHealth(status, for: target)
        guard !changed.isEmpty else { return }
        dirty.formUnion(changed)
        markPending()
    }

    private func markPending() {
        if pendingSince == nil { pendingSince = .now }
    }

    /// When the next tick has work: the debounce end of pending events, or nil when idle.
    public var nextDeadline: ContinuousClock.Instant? {
        pendingSince.map { $0 + configuration.debounce }
    }

    // MARK: Ticks

    /// Does whatever is due: reload, full resync, incremental sync, drain checks. Called by ``SyncLoop``.
    public func tick(now: ContinuousClock.Instant = .now) {
        if let retryAt, now < retryAt { return }
        let debounced = pendingSince.map { now >= $0 + configuration.debounce } ?? false
        var transient = false
        defer { if transient { FreedMemory.release() } }
        if reloadRequested && (debounced || !hasDesiredState) {
            reloadRequested = false
            reloadManifests()
            transient = true
        }
        guard hasDesiredState else {
            pendingSince = nil
            return
        }
        if fullResyncRequested || now >= nextFullResync {
            if syncFull(now: now) { fullResyncRequested = false }
            transient = true
        } else if !dirty.isEmpty && (debounced || pendingSince == nil) {
            syncChanges(now: now)
        }
        if !dirty.isEmpty || reloadRequested || fullResyncRequested {
            if pendingSince == nil || debounced { pendingSince = now }
        } else {
            pendingSince = nil
        }
        if now >= nextDrainCheck {
            nextDrainCheck = now + configuration.drainCheckInterval
            checkDrains(now: now)
        }
    }

    // MARK: Desired state

    /// Loads the manifests. On any error the previous desired state stays, and nothing is removed.
    @discardableResult
    func reloadManifests() -> Bool {
        let built: (state: DesiredState, allocations: ClusterIPAllocations, notes: [String])
        do throws(ManifestErrors) {
            let set = try ManifestLoader.load(path: configuration.manifests)
            built = try DesiredStateBuilder.build(
                set,
                options: translation,
                allocations: ClusterIPAllocations(addresses: persisted.clusterIPs)
            )
            for note in set.notes { logger.notice("manifest note", metadata: ["note": "\(note)"]) }
        } catch {
            manifestErrors = error.errors.map(\.description)
            metrics.manifestErrors.increment()
            for message in manifestErrors {
                logger.error("invalid manifest; keeping the previous state", metadata: ["error": "\(message)"])
            }
            return false
        }
        for note in built.notes { logger.notice("manifest note", metadata: ["note": "\(note)"]) }
        manifestErrors = []
        hasDesiredState = true
        let state = built.state
        let changed = core.setDesired(state)
        dirty.formUnion(changed)
        if built.allocations.addresses != persisted.clusterIPs {
            persisted.clusterIPs = built.allocations.addresses
            savePersisted()
        }
        publishHealthTargets()
        logger.info(
            "manifests loaded",
            metadata: ["virtual_servers": "\(state.virtualServers.count)", "changed": "\(changed.count)"]
        )
        return true
    }

    func publishHealthTargets() {
        let targets = Set(core.healthTargets.keys)
        guard targets != lastHealthTargets else { return }
        lastHealthTargets = targets
        onHealthTargets?(targets)
    }

    func savePersisted() {
        var state = persisted
        state.setOwned(core.owned)
        guard state != persisted || !stateFileWritten else { return }
        do throws(AgentError) {
            try stateFile.save(state)
            persisted = state
            stateFileWritten = true
        } catch {
            logger.error("cannot write the state file", metadata: ["error": "\(error)"])
        }
    }
    var stateFileWritten = false
}
