/// `GET /v1/services`: each virtual server the agent wants or owns, desired against programmed.
public struct ServiceView: Codable, Sendable, Equatable {
    /// `10.96.100.50:80/tcp`.
    public var virtualServer: String
    /// `production/backend-api:http`; empty for an owned service no longer desired.
    public var origin: String
    /// `rr`, with ` persistent 10800` when ClientIP affinity applies; empty when absent.
    public var desired: String
    public var programmed: String
    /// Another tool owns this virtual server; the agent leaves it alone.
    public var conflict: Bool
    public var realServers: [RealServerView]

    public init(
        virtualServer: String,
        origin: String,
        desired: String,
        programmed: String,
        conflict: Bool,
        realServers: [RealServerView]
    ) {
        self.virtualServer = virtualServer
        self.origin = origin
        self.desired = desired
        self.programmed = programmed
        self.conflict = conflict
        self.realServers = realServers
    }
}

/// One backend of a virtual server.
public struct RealServerView: Codable, Sendable, Equatable {
    /// `10.244.1.15:8080`.
    public var address: String
    /// `serving`, `draining`, `health-failed`, `not-ready` or `pending`.
    public var state: String
    public var desiredWeight: UInt32?
    /// Nil when the kernel does not have it.
    public var programmedWeight: UInt32?
    /// `ready`, `serving`, `terminating` as Kubernetes reports them, comma separated.
    public var conditions: String
    /// `up`, `down`, `unknown`, or empty without health checks.
    public var health: String
    public var drainingSeconds: Double?
    /// What the endpoint is, such as a pod's `namespace/name`.
    public var target: String

    public init(
        address: String,
        state: String,
        desiredWeight: UInt32?,
        programmedWeight: UInt32?,
        conditions: String,
        health: String,
        drainingSeconds: Double?,
        target: String
    ) {
        self.address = address
        self.state = state
        self.desiredWeight = desiredWeight
        self.programmedWeight = programmedWeight
        self.conditions = conditions
        self.health = health
        self.drainingSeconds = drainingSeconds
        self.target = target
    }
}

/// `GET /v1/health`: each checked target, once however many virtual servers share it.
public struct HealthView: Codable, Sendable, Equatable {
    /// `tcp 10.244.1.15:8080` or `http 10.244.1.15:8080/healthz`.
    public var target: String
    /// `up`, `down` or `unknown`.
    public var state: String
    /// `ok`, or why the last check failed (`timeout`, `connection refused`, `status 503`).
    public var lastResult: String
    /// Seconds the target has been in this state.
    public var sinceSeconds: Double
    /// Consecutive results agreeing with the last one.
    public var consecutive: Int
    /// The virtual servers using this target.
    public var usedBy: [String]

    public init(
        target: String,
        state: String,
        lastResult: String,
        sinceSeconds: Double,
        consecutive: Int,
        usedBy: [String]
    ) {
        self.target = target
        self.state = state
        self.lastResult = lastResult
        self.sinceSeconds = sinceSeconds
        self.consecutive = consecutive
        self.usedBy = usedBy
    }
}

/// The admin API's paths, shared by the server and `ipvsctl agent`.
public enum AdminPath {
    public static let status = "/v1/status"
    public static let services = "/v1/services"
    public static let health = "/v1/health"
    /// `?target=NAMESPACE/NAME` or `?target=ADDRESS:PORT`: ``ExplainFacts`` about one Service.
    public static let explain = "/v1/explain"
    /// POST: re-read the manifests and do a full resync now.
    public static let sync = "/v1/sync"
    /// POST: a full resync now (read the kernel, repair drift) without re-reading the manifests.
    public static let resync = "/v1/resync"
    /// The default socket; the directory is root-only (0700) and the socket 0600.
    public static let defaultSocket = "/run/ipvsd/admin.sock"
}
