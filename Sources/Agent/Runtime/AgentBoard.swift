import AgentAPI
import KubernetesAPI
import KubernetesManifests
import Synchronization

/// What `GET /v1/status`, `/readyz`, `POST /v1/sync` and the metrics scrape need, readable and writable
/// without the agent's actor. A sync runs on the actor from start to end, and a first sync or a full resync at
/// cluster scale holds it for seconds natively and minutes in a slow VM: an operator asking for the status,
/// a kubelet probing readiness (1 s timeout by default) or a scrape must get an answer then, and an answer
/// that says a sync is running. The agent mirrors each field here as it changes (the board holds copies,
/// never the agent's tables), and takes the requests at its next tick.
public final class AgentBoard: Sendable {
    /// The mirrored fields of ``AgentStatus`` (times as instants; the status turns them into seconds).
    struct Published: Sendable {
        var ready = false
        var manifestErrors: [String] = []
        var virtualServers = 0
        var realServers = 0
        var drainingRealServers = 0
        var conflicts: [String] = []
        var lastSync: SyncReportValue?
        var lastFullSync: SyncReportValue?
        var lastError: String?
        var refusedOperations: [String] = []
        var running: Running?
        var loading: Loading?
    }

    /// The manifest load running now, and the file it is reading since when.
    struct Loading: Sendable {
        var full: Bool
        var started: ContinuousClock.Instant
        var file: (progress: ManifestStore.ScanProgress, started: ContinuousClock.Instant)?

        init(full: Bool, started: ContinuousClock.Instant) {
            self.full = full
            self.started = started
        }

        mutating func at(_ file: ManifestStore.ScanProgress, now: ContinuousClock.Instant) {
            self.file = (file, now)
        }
    }

    /// The sync running now: its kind, its current step and when each began.
    struct Running: Sendable {
        var kind: SyncKind
        var step: String
        var started: ContinuousClock.Instant
        var stepStarted: ContinuousClock.Instant
    }

    /// Admin requests waiting for the agent's next tick.
    struct Requests: Sendable, Equatable {
        var reload = false
        var fullReload = false
        var fullResync = false
    }

    let started: ContinuousClock.Instant
    let source: String
    private let published = Mutex(Published())
    private let requests = Mutex(Requests())
    private let kubernetes = Mutex<(@Sendable () -> [ResourceStatus])?>(nil)

    init(started: ContinuousClock.Instant, source: String) {
        self.started = started
        self.source = source
    }

    func update(_ change: (inout Published) -> Void) {
        published.withLock { change(&$0) }
    }

    /// Where the API source's per-resource status is read (its cells have their own locks).
    func setKubernetesStatus(_ source: @escaping @Sendable () -> [ResourceStatus]) {
        kubernetes.withLock { $0 = source }
    }

    /// Whether a sync is running now and since when: the metrics scrape serves its last kernel counters
    /// instead of queueing behind a long one.
    var syncRunningSince: ContinuousClock.Instant? { published.withLock { $0.running?.started } }

    /// /readyz: ready once the desired state was programmed and while the manifests load; otherwise the reason.
    /// A failing load keeps the last good state programmed, but the node no longer follows its Services.
    public var readiness: (ready: Bool, reason: String) {
        let (ready, errors) = published.withLock { ($0.ready, $0.manifestErrors.count) }
        if !ready { return (false, "desired state not programmed yet") }
        if errors > 0 {
            return (false, "manifests fail to load (\(errors) errors); the last good state stays programmed")
        }
        return (true, "ready")
    }

    public func status(now: ContinuousClock.Instant = .now) -> AgentStatus {
        let value = published.withLock { $0 }
        var status = AgentStatus(
            version: Agent.version,
            ready: value.ready,
            uptimeSeconds: (now - started).seconds,
            manifests: source,
            manifestErrors: value.manifestErrors,
            virtualServers: value.virtualServers,
            realServers: value.realServers,
            drainingRealServers: value.drainingRealServers,
            conflicts: value.conflicts,
            lastSync: value.lastSync.map(report),
            lastFullSync: value.lastFullSync.map(report),
            lastError: value.lastError,
            refusedOperations: value.refusedOperations
        )
        if let running = value.running {
            status.running = RunningSync(
                kind: running.kind.rawValue,
                step: running.step,
                seconds: (now - running.started).seconds,
                stepSeconds: (now - running.stepStarted).seconds
            )
        }
        if let loading = value.loading {
            status.loading = ManifestLoad(
                kind: loading.full ? "full" : "incremental",
                seconds: (now - loading.started).seconds,
                file: loading.file.map { file, started in
                    ManifestLoad.File(
                        path: file.file,
                        bytes: file.bytes,
                        index: file.index,
                        count: file.count,
                        seconds: (now - started).seconds
                    )
                }
            )
        }
        let resources = kubernetes.withLock { $0 }
        status.kubernetes = (resources?() ?? []).map(Agent.view)
        return status
    }

    private func report(_ value: SyncReportValue) -> SyncReport {
        SyncReport(
            kind: value.kind.rawValue,
            atSeconds: (value.at - started).seconds,
            durationSeconds: value.duration.seconds,
            operations: value.operations,
            failures: value.failures
        )
    }

    // MARK: Requests

    /// `POST /v1/sync`: answered at once; the agent's next tick (within its tick interval) takes it.
    public func requestSync(reload: Bool) {
        requests.withLock {
            if reload {
                $0.reload = true
                $0.fullReload = true
            }
            $0.fullResync = true
        }
    }

    func takeRequests() -> Requests {
        requests.withLock {
            let taken = $0
            $0 = Requests()
            return taken
        }
    }
}
