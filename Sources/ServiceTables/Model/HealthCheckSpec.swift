import IPVS

/// How to check a real server actively, and how to react. One spec per virtual server (config defaults
/// with Service annotation overrides); real servers that share an address, port and spec are checked once.
public struct HealthCheckSpec: Sendable, Hashable {
    public enum Kind: Sendable, Hashable {
        /// A TCP connect.
        case tcp
        /// An HTTP GET.
        case http(HTTPProbe)
        /// An HTTP GET over TLS (certificates are not verified: backends use cluster-internal names).
        case https(HTTPProbe)
        /// Send a datagram, expect any reply (or one containing `expect`).
        case udp(payload: [UInt8], expect: [UInt8]?)
        /// Run `argv` directly (no shell); exit status 0 is healthy. The target is passed in the
        /// environment as `IPVS_CHECK_ADDRESS` and `IPVS_CHECK_PORT`.
        case command(argv: [String])
        /// A gRPC health check (grpc.health.v1.Health/Check) over plaintext HTTP/2; healthy when the server
        /// answers SERVING for `service` ("" asks for the server's overall health).
        case grpc(service: String)
    }

    public struct HTTPProbe: Sendable, Hashable {
        public var path: String
        /// The Host header; the target address when nil.
        public var host: String?
        /// Status codes that count as healthy.
        public var expectedStatus: ClosedRange<Int>
        /// A string the body must contain, when set.
        public var bodyContains: String?

        public init(
            path: String = "/",
            host: String? = nil,
            expectedStatus: ClosedRange<Int> = 200...399,
            bodyContains: String? = nil
        ) {
            self.path = path
            self.host = host
            self.expectedStatus = expectedStatus
            self.bodyContains = bodyContains
        }
    }

    /// What happens to a real server that fails its checks.
    public enum FailureAction: String, Sendable, Hashable, CaseIterable {
        /// Delete it from IPVS: with expire_nodest_conn its connections are reset, not left hanging.
        case delete
        /// Keep it with weight 0 (keepalived's inhibit_on_failure): no new connections.
        case weightZero = "weight-zero"
    }

    public var kind: Kind
    public var interval: Duration
    public var timeout: Duration
    /// Consecutive successes that bring a down server back.
    public var rise: Int
    /// Consecutive failures that take an up server out.
    public var fall: Int
    /// Each interval is randomly shortened or lengthened by up to this fraction (0...0.5).
    public var jitter: Double
    /// The port to check; the real server's port when nil.
    public var port: UInt16?
    public var failureAction: FailureAction

    /// Defaults detect a dead backend within 5 s: interval 1 s, fall 3, timeout 1 s.
    public init(
        kind: Kind = .tcp,
        interval: Duration = .seconds(1),
        timeout: Duration = .seconds(1),
        rise: Int = 2,
        fall: Int = 3,
        jitter: Double = 0.1,
        port: UInt16? = nil,
        failureAction: FailureAction = .delete
    ) {
        self.kind = kind
        self.interval = interval
        self.timeout = timeout
        self.rise = rise
        self.fall = fall
        self.jitter = jitter
        self.port = port
        self.failureAction = failureAction
    }
}

/// One thing the prober checks: an address and port with a check. Virtual servers that share a backend
/// and a check share one target.
public struct HealthTarget: Sendable, Hashable, CustomStringConvertible {
    public var address: IPAddress
    public var port: UInt16
    public var kind: HealthCheckSpec.Kind
    public var interval: Duration
    public var timeout: Duration
    public var rise: Int
    public var fall: Int
    public var jitter: Double

    public init(realServer: RealServer.ID, spec: HealthCheckSpec) {
        self.address = realServer.address
        self.port = spec.port ?? realServer.port
        self.kind = spec.kind
        self.interval = spec.interval
        self.timeout = spec.timeout
        self.rise = spec.rise
        self.fall = spec.fall
        self.jitter = spec.jitter
    }

    public var description: String {
        let host = address.family == .inet6 ? "[\(address)]:\(port)" : "\(address):\(port)"
        switch kind {
        case .tcp: return "tcp \(host)"
        case .http(let probe): return "http \(host)\(probe.path)"
        case .https(let probe): return "https \(host)\(probe.path)"
        case .udp: return "udp \(host)"
        case .command(let argv): return "command \(argv.first ?? "") \(host)"
        case .grpc(let service): return service.isEmpty ? "grpc \(host)" : "grpc \(host) \(service)"
        }
    }
}

/// A target's health as the checker currently judges it.
public struct HealthStatus: Sendable, Hashable {
    public enum State: String, Sendable, Hashable {
        /// Not yet judged: treated as up, so a new backend serves at once (Kubernetes already said ready).
        case unknown
        case up
        case down
    }

    public var state: State
    /// The last probe's outcome: `ok`, or why it failed (`timeout`, `connection refused`, `status 503`).
    public var lastResult: String
    /// When the state last changed, in the checker's clock (seconds since its start).
    public var since: Duration
    /// Consecutive results agreeing with the last one.
    public var consecutive: Int

    public init(state: State = .unknown, lastResult: String = "", since: Duration = .zero, consecutive: Int = 0) {
        self.state = state
        self.lastResult = lastResult
        self.since = since
        self.consecutive = consecutive
    }

    /// Whether the target may serve: up, or not yet judged.
    public var mayServe: Bool { state != .down }
}

/// Targets that appeared and disappeared since the prober was last told, so a change costs its own targets
/// rather than the whole set (100k targets at 10k Services x 10, on every endpoint event).
public typealias HealthTargetChanges = SetChanges<HealthTarget>

/// Elements that appeared in and disappeared from a set since its consumer was last told (the health
/// monitor's targets, the masquerade table's elements).
public struct SetChanges<Element: Hashable & Sendable>: Sendable, Equatable {
    public private(set) var added: Set<Element> = []
    public private(set) var removed: Set<Element> = []

    public init(added: Set<Element> = [], removed: Set<Element> = []) {
        self.added = added
        self.removed = removed
    }

    public var isEmpty: Bool { added.isEmpty && removed.isEmpty }

    /// An element now in the set; cancels a removal not yet told (the consumer keeps its state for it).
    mutating func add(_ element: Element) {
        if removed.remove(element) == nil { added.insert(element) }
    }

    /// An element no longer in the set; cancels an addition not yet told.
    mutating func remove(_ element: Element) {
        if added.remove(element) == nil { removed.insert(element) }
    }
}
