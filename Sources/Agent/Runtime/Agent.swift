import Foundation
import HealthCheck
import IPVS
import KubernetesAPI
import KubernetesManifests
import Logging
import ServiceTables

/// The agent's state and its syncs: desired state from the manifests, the load-balancer core, and the
/// kernel. One actor, so every change to the core is serialised; the loops around it (``SyncLoop``,
/// the manifest watcher, the health monitor) only call into it.
public actor Agent {
    public let configuration: AgentConfiguration
    let kernel: any IPVSKernel
    let binder: (any AddressBinder)?
    /// The agent's nftables table (masquerade); nil when the caller manages none (tests on a fake kernel).
    let packetFilter: (any PacketFilter)?
    let stateFile: AgentStateFile
    let logger: Logger
    let metrics: AgentMetrics
    nonisolated var started: ContinuousClock.Instant { board.started }
    let translation: TranslationOptions

    /// The status, readiness and sync requests, readable without this actor (AgentBoard); the fields below
    /// that it shows are mirrored into it as they change.
    public nonisolated let board: AgentBoard
    /// Wakes ``SyncLoop`` when work comes in while it sleeps (``markPending(_:)``).
    nonisolated let wakeup = Wakeup()

    var core: LoadBalancerState
    var persisted: AgentState
    var manifestErrors: [String] = [] {
        didSet { board.update { [manifestErrors] in $0.manifestErrors = manifestErrors } }
    }
    /// The manifests as last loaded without error, per file: a reload re-parses only changed files.
    var manifestStore: ManifestStore
    /// Manifest files read and parsed since start (tests count them; a reload logs its own count).
    var manifestFilesParsed = 0
    var hasDesiredState = false
    var ready = false {
        didSet { board.update { [ready] in $0.ready = ready } }
    }
    var lastSync: SyncReportValue? {
        didSet { board.update { [lastSync] in $0.lastSync = lastSync } }
    }
    var lastFullSync: SyncReportValue? {
        didSet { board.update { [lastFullSync] in $0.lastFullSync = lastFullSync } }
    }
    var lastError: String? {
        didSet { board.update { [lastError] in $0.lastError = lastError } }
    }
    /// The operations the kernel refused in the last sync (at most ``refusedOperationsShown``), until one
    /// succeeds: an endpoint the kernel will never accept shows here, not only in the log.
    var refusedOperations: [String] = [] {
        didSet { board.update { [refusedOperations] in $0.refusedOperations = refusedOperations } }
    }
    static let refusedOperationsShown = 20
    /// Addresses known to be on the interface; refreshed from the kernel at each full sync.
    var boundAddresses: Set<IPAddress> = []
    /// Called with the deduplicated health targets whenever they change.
    var onHealthTargets: (@Sendable (HealthTargetChanges) -> Void)?
    /// The Services' names as of the last good load (DNS and `ipvsctl explain` read them).
    var names = ServiceNameTable()
    /// Whether a name table has been handed to ``onNames`` (an empty first table is news too).
    var namesPublished = false
    /// Reads a sysctl of the programmed namespace, for `explain`; nil in tests without a host network.
    var sysctlReader: (@Sendable (String) -> String?)?
    /// Called with the name table whenever a load changes it (the DNS responder's publisher).
    var onNames: (@Sendable (ServiceNameTable) -> Void)?
    /// The health monitor's live view (statuses and its clock now), for the admin API; the core only
    /// keeps each target's status as of its last transition.
    var liveHealth: (@Sendable () -> (now: Duration, statuses: [HealthTarget: HealthStatus]))?

    // Scheduling state, read by ``tick(now:)``.
    var dirty: Set<VirtualServer.ID> = []
    var pendingSince: ContinuousClock.Instant?
    var reloadRequested = true
    /// The next reload re-reads every file and rebuilds every Service (SIGHUP, `POST /v1/sync`).
    var fullReloadRequested = true
    var fullResyncRequested = true
    /// A manifest load that ``tick(now:waitForReload:)`` left running (the sync loop's ticks do): health
    /// transitions and drains go on being synced while a large file is parsed.
    var reloading: Task<Void, Never>?
    var nextFullResync: ContinuousClock.Instant
    var nextDrainCheck: ContinuousClock.Instant
    var retryAt: ContinuousClock.Instant?
    /// Incremental syncs since freed heap pages were last returned, and when that was.
    var syncsSinceTrim = 0
    var lastTrim = ContinuousClock.now
    var retryBackoff: Duration = .seconds(1)
    /// The running sync's steps and when each began, for the step durations its log line names.
    var syncSteps: [(step: String, started: ContinuousClock.Instant)] = []

    // Ownership evidence (docs/ipvsd.md, "Failure behaviour").
    /// Whether the state file was missing or corrupt at start: the first full resync then also claims desired
    /// services whose VIP the agent has bound (a local route of its protocol, or an address on its interface).
    var recovering: Bool
    /// Services the state file's intent record says were being added when the agent last stopped.
    var pendingClaims: Set<VirtualServer.ID>
    /// Services being added now: recorded in the state file before the kernel sees them.
    var pendingAdds: Set<VirtualServer.ID> = []
    /// What this run last wrote to the state file (nil before its first write).
    var written: AgentState?
    /// The sets `persisted` was last encoded from: encoding sorts the owned set and formats every address,
    /// so it is skipped while neither changed (a set copied from another shares its storage, so comparing
    /// them is usually immediate).
    var encodedIDs: (owned: Set<VirtualServer.ID>, pending: Set<VirtualServer.ID>)?
    /// Whether the packet filter holds the core's masquerade rules as of the last changes taken; a failed
    /// write clears it so the next sync writes the table whole.
    var masqueradeInSync = false
    /// The healthCheckNodePort listeners; nil when none run (tests, `ipvsd cleanup`).
    var healthCheckNodePorts: HealthCheckNodePorts?
    /// Test seam: called at each step boundary of a sync, where a crash leaves the state file and the
    /// kernel as they are at that step (the crash-consistency tests kill the agent there).
    var stepHook: (@Sendable (SyncStep) -> Void)?
    /// The API source's name table (DNS, `explain`) and its version, when newer than the version given.
    var kubernetesNames: (@Sendable (_ ifNewerThan: Int) async -> (version: Int, table: ServiceNameTable)?)?
    /// The version of the API source's name table last taken (-1: none yet).
    var kubernetesNamesVersion = -1
    /// The API source delivered since the name table was last built from it.
    var namesStale = false
    /// The healthCheckNodePort answers from the API source (its per-Service builds), when it is the source.
    var kubernetesHealthCheckNodePorts: [UInt16: HealthCheckNodePort]?
    /// When each watch event whose changes wait for the kernel was read (Agent+Kubernetes).
    var kubernetesEventsPending: [ContinuousClock.Instant] = []

    /// - Throws: ``AgentError`` when the state file cannot be read safely or the config is invalid.
    public init(
        configuration: AgentConfiguration,
        kernel: any IPVSKernel,
        binder: (any AddressBinder)?,
        packetFilter: (any PacketFilter)? = nil,
        nodePortAddresses: [IPAddress] = [],
        logger: Logger,
        metrics: AgentMetrics = AgentMetrics()
    ) throws(AgentError) {
        self.configuration = configuration
        self.kernel = kernel
        self.binder = binder
        self.packetFilter = packetFilter
        self.logger = logger
        self.metrics = metrics
        self.stateFile = AgentStateFile(path: configuration.stateFile)
        self.board = AgentBoard(
            started: .now,
            source: configuration.kubernetes.enabled ? "Kubernetes API" : configuration.manifests
        )
        var translation = try TranslationOptions(configuration)
        translation.nodePortAddresses = nodePortAddresses
        self.translation = translation
        let loaded = try stateFile.load()
        let persisted = loaded.state
        switch loaded {
        case .valid:
            recovering = false
        case .missing:
            recovering = true
            logger.notice(
                "no state file; ownership is recovered from the intent record and from VIPs bound on the interface",
                metadata: ["path": "\(configuration.stateFile)"]
            )
        case .corrupt(let reason, let setAside):
            recovering = true
            logger.error(
                "corrupt state file set aside; ownership is recovered from VIPs bound on the interface",
                metadata: [
                    "path": "\(configuration.stateFile)", "reason": "\(reason)", "set_aside": "\(setAside ?? "")",
                ]
            )
        }
        self.persisted = persisted
        self.pendingClaims = try persisted.pendingIDs()
        self.core = LoadBalancerState(
            settings: LoadBalancerSettings(
                gracePeriod: configuration.gracePeriod,
                masquerade: packetFilter == nil ? .none : configuration.masquerade
            ),
            owned: try persisted.ownedIDs()
        )
        self.manifestStore = ManifestStore(
            options: translation,
            allocations: ClusterIPAllocations(addresses: persisted.clusterIPs)
        )
        self.nextFullResync = board.started
        self.nextDrainCheck = board.started
        // With the API as the source, desired state arrives through applyKubernetesChanges, never a reload.
        if configuration.kubernetes.enabled { reloadRequested = false }
        #if DEBUG
        // Crash-consistency tests kill the real binary at a named step: IPVSD_CRASH_AT=services-added.
        if let step = ProcessInfo.processInfo.environment["IPVSD_CRASH_AT"].flatMap(SyncStep.init(rawValue:)) {
            stepHook = { if $0 == step { kill(getpid(), SIGKILL) } }
        }
        #endif
    }

    /// Sets the test seam called at each step boundary of a sync (see ``SyncStep``).
    public func setStepHook(_ hook: (@Sendable (SyncStep) -> Void)?) { stepHook = hook }

    /// Sets the listeners that answer healthCheckNodePorts, and tells them the current answers.
    func setHealthCheckNodePorts(_ listeners: HealthCheckNodePorts) {
        healthCheckNodePorts = listeners
        publishHealthCheckNodePorts()
    }

    /// Hands the healthCheckNodePorts' answers to their listeners; a port beyond their budget is logged.
    func publishHealthCheckNodePorts() {
        guard let healthCheckNodePorts else { return }
        let answers = kubernetesHealthCheckNodePorts ?? core.desired.healthCheckNodePorts
        let refused = healthCheckNodePorts.update(answers, healthy: ready)
        if !refused.isEmpty {
            logger.warning(
                "healthCheckNodePorts beyond the listener budget are not served",
                metadata: ["ports": "\(refused)", "maximum": "\(HealthCheckNodePorts.maximumListeners)"]
            )
        }
    }

    /// Sets the function that receives the health targets as changes (the health monitor's
    /// `changeTargets`): first every current target as added, then what each sync adds and removes.
    public func setHealthTargetHandler(_ handler: @escaping @Sendable (HealthTargetChanges) -> Void) {
        onHealthTargets = handler
        _ = core.takeHealthTargetChanges()
        handler(HealthTargetChanges(added: Set(core.healthTargets.keys)))
    }

    /// Sets the function that receives the Service name table (the DNS responder), and calls it at once when
    /// the manifests have loaded: until then there is no table, and the responder refuses rather than deny.
    public func setNameHandler(_ handler: @escaping @Sendable (ServiceNameTable) -> Void) {
        onNames = handler
        if hasDesiredState { handler(names) }
    }

    /// Sets how `explain` reads sysctls (the host network of the programmed namespace).
    public func setSysctlReader(_ reader: @escaping @Sendable (String) -> String?) { sysctlReader = reader }

    /// Sets where the admin API reads the checks' live statuses (the health monitor).
    public func setLiveHealthSource(
        _ source: @escaping @Sendable () -> (now: Duration, statuses: [HealthTarget: HealthStatus])
    ) {
        liveHealth = source
    }

    // MARK: Events

    /// The manifests changed (file watcher, SIGHUP or the admin API): reload at the next tick.
    /// - Parameters:
    ///   - full: re-read every file and rebuild every Service (SIGHUP, `POST /v1/sync`) rather than only
    ///     what changed (the file watcher).
    ///   - now: when the event happened (tests drive the agent with their own instants).
    public func requestReload(full: Bool = false, at now: ContinuousClock.Instant = .now) {
        // The API source is always current: a reload asks for a full resync instead.
        guard !configuration.kubernetes.enabled else { return requestFullResync(at: now) }
        reloadRequested = true
        if full { fullReloadRequested = true }
        markPending(now)
    }

    /// Asks for a full resync (read the kernel, repair drift) at the next tick.
    public func requestFullResync(at now: ContinuousClock.Instant = .now) {
        fullResyncRequested = true
        markPending(now)
    }

    /// Loads the manifests when a reload is asked for and due, within this call or left running (see
    /// ``tick(now:waitForReload:)``); returns whether it loaded within the call.
    private func reloadIfDue(debounced: Bool, waitForReload: Bool) async -> Bool {
        guard reloading == nil && reloadRequested && (debounced || !hasDesiredState || fullReloadRequested) else {
            return false
        }
        reloadRequested = false
        if waitForReload || !hasDesiredState {
            await reloadManifests()
            return true
        }
        reloading = Task {
            await reloadManifests()
            reloadEnded()
        }
        return false
    }

    /// A background reload ended: its changes (dirty now) are synced by the next tick.
    private func reloadEnded() {
        reloading = nil
        markPending(.now)
        returnFreedPages(after: true, now: .now)
    }

    /// A health target changed state.
    public func healthChanged(_ target: HealthTarget, _ status: HealthStatus, at now: ContinuousClock.Instant = .now) {
        let changed = core.setHealth(status, for: target)
        guard !changed.isEmpty else { return }
        dirty.formUnion(changed)
        markPending(now)
    }

    /// Returns freed heap pages to the kernel after a reload or a full resync, and at most every
    /// ``HeapPolicy/trimInterval`` after incremental syncs: each event's sync frees what it allocated, but
    /// freed pages between live ones stay resident until trimmed, and without this ipvsd's RSS grew with
    /// every endpoint event (17 MB over 40 events at 10k x 10 from the API).
    private func returnFreedPages(after transient: Bool, now: ContinuousClock.Instant) {
        guard transient || (syncsSinceTrim > 0 && now >= lastTrim + HeapPolicy.trimInterval) else { return }
        HeapPolicy.returnFreedPages()
        syncsSinceTrim = 0
        lastTrim = now
    }

    func markPending(_ now: ContinuousClock.Instant) {
        guard pendingSince == nil else { return }
        pendingSince = now
        // A new debounce end, likely before the loop's planned wake-up.
        wakeup.signal()
    }

    /// When the next tick has work: the debounce end of pending events, or nil when idle.
    public var nextDeadline: ContinuousClock.Instant? {
        pendingSince.map { $0 + configuration.debounce }
    }

    // MARK: Ticks

    /// Does whatever is due: reload, full resync, incremental sync, drain checks. Called by ``SyncLoop``.
    /// - Parameter waitForReload: finish a manifest load before this tick goes on (tests, and always for the
    ///   first load); false starts it and lets this and later ticks sync health transitions meanwhile (a
    ///   64 MiB file takes half a minute to parse in a slow VM, and a backend failing then must not wait
    ///   for it). Its changes are synced at the first tick after it ends; a full resync waits for it.
    public func tick(now: ContinuousClock.Instant = .now, waitForReload: Bool = true) async {
        let requests = board.takeRequests()
        if requests.reload { requestReload(full: requests.fullReload, at: now) }
        if requests.fullResync { requestFullResync(at: now) }
        if let retryAt, now < retryAt { return }
        let debounced = pendingSince.map { now >= $0 + configuration.debounce } ?? false
        var transient = false
        defer { returnFreedPages(after: transient, now: now) }
        // An asked-for full reload (SIGHUP, `POST /v1/sync`) runs now, before the full resync it comes with;
        // the debounce is for the file watcher's bursts of changes.
        // A due full resync goes before a file watcher's reload left running, which it would otherwise wait
        // for: a directory rewritten without pause must not put off drift repair for good. The reload then
        // starts in the same tick, whether the resync succeeded or not.
        let resyncFirst =
            hasDesiredState && !waitForReload && !fullReloadRequested
            && (fullResyncRequested || now >= nextFullResync)
        if !resyncFirst, await reloadIfDue(debounced: debounced, waitForReload: waitForReload) { transient = true }
        guard hasDesiredState else {
            pendingSince = nil
            return
        }
        // A full resync waits for a reload in flight: `POST /v1/sync`'s resync follows its reload.
        if reloading == nil && (fullResyncRequested || now >= nextFullResync) {
            if syncFull(now: now) { fullResyncRequested = false }
            transient = true
        } else if !dirty.isEmpty && (debounced || pendingSince == nil) {
            syncChanges(now: now)
            syncsSinceTrim += 1
        }
        if resyncFirst { _ = await reloadIfDue(debounced: debounced, waitForReload: false) }
        if namesStale && (debounced || pendingSince == nil) {
            await refreshKubernetesNames()
        }
        if !dirty.isEmpty || reloadRequested || fullResyncRequested || namesStale {
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

    /// Loads the manifests: a full reload reads and builds everything off the actor (parsing a large or
    /// hostile file must not stall the admin API or health transitions); an incremental one parses only the
    /// changed files off the actor, then rebuilds only the Services they touch (``ManifestStore``). On any
    /// error the previous desired state stays programmed, nothing is removed, and the failure is reported:
    /// log, `ipvsd_manifest_errors_total`, `ipvsd_desired_state_stale`, agent status and /readyz.
    @discardableResult
    func reloadManifests() async -> Bool {
        let configuration = configuration
        let full = fullReloadRequested
        fullReloadRequested = false
        let start = ContinuousClock.now
        let board = board
        board.update { $0.loading = .init(full: full, started: start) }
        defer { board.update { $0.loading = nil } }
        // Called off the actor, before each file is read.
        let progress: @Sendable (ManifestStore.ScanProgress) -> Void = { at in
            board.update { $0.loading?.at(at, now: .now) }
        }
        let changed: Set<VirtualServer.ID>
        let notes: [String]
        let parsed: Int
        var namesChanged = true
        var phases: [(step: String, duration: Duration)] = []
        do throws(ManifestErrors) {
            if full {
                let translation = translation
                let allocations = ClusterIPAllocations(addresses: persisted.clusterIPs)
                // The held store is let go before the new one is built, not after: only incremental reloads
                // read it, and after a failed full reload the next one is full again (below), so it is never
                // needed again, and held it made a reload's peak two stores (1.55x steady at 10k x 10). The
                // programmed and desired tables, which keep the last good state, are not the store.
                manifestStore = ManifestStore(options: translation, allocations: allocations)
                // The core's desired state (a copy-on-write reference, not a copy): unchanged Services are
                // built as its own values, so a reload of unchanged manifests does not hold two of them.
                let held = core.desired
                let loaded = try await Task.detached { () -> Result<DesiredStateLoad, ManifestErrors> in
                    do throws(ManifestErrors) {
                        return .success(
                            try DesiredStateLoad.load(
                                configuration,
                                translation: translation,
                                allocations: allocations,
                                reusing: held,
                                progress: progress
                            )
                        )
                    } catch {
                        return .failure(error)
                    }
                }.value.get()
                manifestStore = loaded.store
                let built = ContinuousClock.now
                changed = core.setDesired(loaded.state)
                notes = loaded.notes
                parsed = loaded.parsedFiles
                phases = [
                    ("reading and parsing", loaded.scanDuration), ("building", loaded.buildDuration),
                    ("setting the desired state", ContinuousClock.now - built),
                ]
            } else {
                let known = manifestStore.versions
                let scan = await Task.detached {
                    ManifestStore.scan(configuration.manifests, known: known, progress: progress)
                }.value
                let update = try manifestStore.apply(scan) {
                    DesiredStateLoad.reserved($0, configuration: configuration)
                }
                changed = core.updateDesired(update.changes)
                if update.healthCheckNodePortsChanged {
                    core.setHealthCheckNodePorts(manifestStore.healthCheckNodePorts)
                }
                notes = update.notes
                parsed = scan.parsedFiles
                namesChanged = update.namesChanged
            }
        } catch {
            // A full reload that failed is retried in full by the next one.
            if full { fullReloadRequested = true }
            manifestErrors = error.errors.map(\.description)
            metrics.manifestErrors.increment()
            metrics.desiredStateStale.record(1)
            let milliseconds = (ContinuousClock.now - start).milliseconds
            for message in manifestErrors {
                logger.error(
                    "invalid manifests; keeping the last good state",
                    metadata: ["error": "\(message)", "full": "\(full)", "duration_ms": "\(milliseconds)"]
                )
            }
            return false
        }
        manifestFilesParsed += parsed
        for note in notes { logger.notice("manifest note", metadata: ["note": "\(note)"]) }
        manifestErrors = []
        metrics.desiredStateStale.record(0)
        hasDesiredState = true
        dirty.formUnion(changed)
        if manifestStore.allocations.addresses != persisted.clusterIPs {
            persisted.clusterIPs = manifestStore.allocations.addresses
            savePersisted()
        }
        publishHealthTargets()
        if namesChanged || !namesPublished {
            let table = manifestStore.names
            if table != names || !namesPublished {
                names = table
                namesPublished = true
                onNames?(names)
            }
        }
        var metadata: Logger.Metadata = [
            "virtual_servers": "\(core.desired.virtualServers.count)", "changed": "\(changed.count)",
            "files_parsed": "\(parsed)", "full": "\(full)",
            "duration_ms": "\((ContinuousClock.now - start).milliseconds)",
        ]
        // Only a full reload is timed by phase; an incremental one would log an empty field.
        if !phases.isEmpty { metadata["steps_ms"] = "\(Self.stepDurations(phases))" }
        logger.info("manifests loaded", metadata: metadata)
        return true
    }

    /// Tells the prober the targets this sync added and removed: O(change), not O(targets).
    func publishHealthTargets() {
        let changes = core.takeHealthTargetChanges()
        guard !changes.isEmpty else { return }
        onHealthTargets?(changes)
    }

    /// Saves ownership and allocations when they changed; returns false when the file could not be written.
    @discardableResult
    func savePersisted() -> Bool {
        let pending = pendingAdds.union(pendingClaims)
        if encodedIDs?.owned != core.owned || encodedIDs?.pending != pending {
            persisted.setOwned(core.owned)
            persisted.setPending(pending)
            encodedIDs = (core.owned, pending)
        }
        // Also catches a change made to `persisted` directly (new cluster IP allocations).
        guard persisted != written else { return true }
        do throws(AgentError) {
            try stateFile.save(persisted)
            written = persisted
            return true
        } catch {
            logger.error("cannot write the state file", metadata: ["error": "\(error)"])
            return false
        }
    }
}
