/// `GET /v1/status`: the agent's overall state.
public struct AgentStatus: Codable, Sendable, Equatable {
    public var version: String
    /// Whether the desired state has been programmed at least once since start.
    public var ready: Bool
    /// Seconds since the agent started.
    public var uptimeSeconds: Double
    /// Where desired state comes from (a file or a directory of manifests).
    public var manifests: String
    /// Errors of the last manifest load; the previous good state stays programmed while this is not empty.
    public var manifestErrors: [String]
    /// Virtual and real servers the agent has programmed.
    public var virtualServers: Int
    public var realServers: Int
    /// Real servers at weight 0 waiting for their connections to end.
    public var drainingRealServers: Int
    /// Desired virtual servers the agent leaves alone because another tool owns them.
    public var conflicts: [String]
    public var lastSync: SyncReport?
    public var lastFullSync: SyncReport?
    /// The last sync error, until a sync succeeds.
    public var lastError: String?
    /// Operations the kernel refused in the last sync, with its error, until a sync succeeds.
    public var refusedOperations: [String]
    /// Each resource of the Kubernetes API source; empty when manifests are the source.
    public var kubernetes: [KubernetesResourceStatus] = []
    /// The sync running while the status was taken, if any (a first sync at cluster scale takes a while).
    public var running: RunningSync?
    /// The manifest load running while the status was taken, if any: a large file takes seconds to parse,
    /// and a reload's result (`manifest errors`, the log) comes only at its end.
    public var loading: ManifestLoad?

    public init(
        version: String,
        ready: Bool,
        uptimeSeconds: Double,
        manifests: String,
        manifestErrors: [String],
        virtualServers: Int,
        realServers: Int,
        drainingRealServers: Int,
        conflicts: [String],
        lastSync: SyncReport?,
        lastFullSync: SyncReport?,
        lastError: String?,
        refusedOperations: [String] = []
    ) {
        self.version = version
        self.ready = ready
        self.uptimeSeconds = uptimeSeconds
        self.manifests = manifests
        self.manifestErrors = manifestErrors
        self.virtualServers = virtualServers
        self.realServers = realServers
        self.drainingRealServers = drainingRealServers
        self.conflicts = conflicts
        self.lastSync = lastSync
        self.lastFullSync = lastFullSync
        self.lastError = lastError
        self.refusedOperations = refusedOperations
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        version = try container.decode(String.self, forKey: .version)
        ready = try container.decode(Bool.self, forKey: .ready)
        uptimeSeconds = try container.decode(Double.self, forKey: .uptimeSeconds)
        manifests = try container.decode(String.self, forKey: .manifests)
        manifestErrors = try container.decode([String].self, forKey: .manifestErrors)
        virtualServers = try container.decode(Int.self, forKey: .virtualServers)
        realServers = try container.decode(Int.self, forKey: .realServers)
        drainingRealServers = try container.decode(Int.self, forKey: .drainingRealServers)
        conflicts = try container.decode([String].self, forKey: .conflicts)
        lastSync = try container.decodeIfPresent(SyncReport.self, forKey: .lastSync)
        lastFullSync = try container.decodeIfPresent(SyncReport.self, forKey: .lastFullSync)
        lastError = try container.decodeIfPresent(String.self, forKey: .lastError)
        // Absent from agents before 0.3.
        refusedOperations = try container.decodeIfPresent([String].self, forKey: .refusedOperations) ?? []
        kubernetes = try container.decodeIfPresent([KubernetesResourceStatus].self, forKey: .kubernetes) ?? []
        running = try container.decodeIfPresent(RunningSync.self, forKey: .running)
        loading = try container.decodeIfPresent(ManifestLoad.self, forKey: .loading)
    }
}

/// A manifest load in progress: full (every file) or incremental (the changed files), and the file it reads.
public struct ManifestLoad: Codable, Sendable, Equatable {
    /// `full` or `incremental`.
    public var kind: String
    public var seconds: Double
    /// The file being read and parsed; nil while the manifests are listed, and after the last file while
    /// the Services are built.
    public var file: File?

    public struct File: Codable, Sendable, Equatable {
        public var path: String
        public var bytes: Int64
        /// Its place (from 0) among the `count` files this load reads.
        public var index: Int
        public var count: Int
        public var seconds: Double

        public init(path: String, bytes: Int64, index: Int, count: Int, seconds: Double) {
            self.path = path
            self.bytes = bytes
            self.index = index
            self.count = count
            self.seconds = seconds
        }
    }

    public init(kind: String, seconds: Double, file: File?) {
        self.kind = kind
        self.seconds = seconds
        self.file = file
    }
}

/// A sync in progress: its kind, the step it is at, and how long each has run.
public struct RunningSync: Codable, Sendable, Equatable {
    /// `full` or `incremental`, as in ``SyncReport``.
    public var kind: String
    /// What it is doing now, in words: `reading the kernel`, `binding addresses`, `applying changes`, ...
    public var step: String
    public var seconds: Double
    public var stepSeconds: Double

    public init(kind: String, step: String, seconds: Double, stepSeconds: Double) {
        self.kind = kind
        self.step = step
        self.seconds = seconds
        self.stepSeconds = stepSeconds
    }
}

/// One sync: what triggered it, how long it took, what it wrote.
public struct SyncReport: Codable, Sendable, Equatable {
    /// `full` (reads the kernel) or `incremental` (only what changed).
    public var kind: String
    /// Seconds since the agent started, when the sync ended.
    public var atSeconds: Double
    public var durationSeconds: Double
    public var operations: Int
    public var failures: Int

    public init(kind: String, atSeconds: Double, durationSeconds: Double, operations: Int, failures: Int) {
        self.kind = kind
        self.atSeconds = atSeconds
        self.durationSeconds = durationSeconds
        self.operations = operations
        self.failures = failures
    }
}
