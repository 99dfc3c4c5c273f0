import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The agent's file-descriptor budget: every consumer of descriptors gets a fixed share of RLIMIT_NOFILE,
/// so that no listener and no burst of health checks can take the descriptors the state file, the
/// manifest reads and the netlink sockets need. With the shares summed below the limit, running out of
/// descriptors (EMFILE, which made the agent read an empty manifest directory and then trap in
/// libdispatch) cannot happen through any of them.
///
/// The shares, for a limit `L`:
/// - ``coreReserve`` for the core: netlink sockets, the state file and its temporary, manifest reading,
///   logging, the event loops' own descriptors;
/// - each HTTP listener's ``HTTPListenerLimits/descriptors`` (its connection cap plus the accept slack);
/// - the rest for health checks, ``descriptorsPerCheck`` each: `maxConcurrentChecks` is clamped to
///   `(L - core - listeners) / descriptorsPerCheck` when the config asks for more.
///
/// A limit that leaves fewer than ``minimumHealthConcurrency`` checks is a start-up error.
public struct ResourceBudget: Sendable, Equatable {
    /// Descriptors kept for everything that is not a listener connection or a health check.
    public static let coreReserve = 128
    /// Descriptors of the healthCheckNodePort listeners at their most (``HealthCheckNodePorts``).
    public static var healthCheckNodePortShare: Int {
        HealthCheckNodePorts.maximumListeners * HTTPListenerLimits.healthCheckNodePort.descriptors
    }
    /// A probe holds one socket; a command probe holds the child's exec-status pipe while it starts.
    public static let descriptorsPerCheck = 2
    /// The fewest concurrent health checks the agent runs with; a lower limit is refused at start.
    public static let minimumHealthConcurrency = 8
    /// The highest soft limit ipvsd asks for, whatever the hard limit: enough for any sane config, and
    /// small enough that a per-descriptor table stays cheap.
    public static let maximumDescriptorLimit = 1 << 20

    /// RLIMIT_NOFILE's soft limit the budget divides.
    public let descriptorLimit: Int
    /// `health.maxConcurrentChecks` as configured.
    public let requestedHealthConcurrency: Int
    /// The health checks' concurrency the agent runs with: the configured one, clamped to the budget.
    public let healthConcurrency: Int
    /// The metrics listener's share; nil when the listener is off.
    public let metrics: HTTPListenerLimits?
    /// The admin listener's share; nil when the socket is off.
    public let admin: HTTPListenerLimits?
    /// The DNS listener's share; nil without `dns`.
    public let dns: DNSListenerLimits?

    /// Divides `descriptorLimit` between the core, the listeners the configuration enables and the
    /// health checks.
    /// - Throws: ``AgentError`` when the limit cannot hold the core, the listeners and
    ///   ``minimumHealthConcurrency`` checks.
    public init(descriptorLimit: Int, configuration: AgentConfiguration) throws(AgentError) {
        self.descriptorLimit = descriptorLimit
        metrics = configuration.metricsAddress.isEmpty ? nil : .metrics
        admin = configuration.adminSocket.isEmpty ? nil : .admin
        dns = configuration.dns == nil ? nil : DNSListenerLimits()
        requestedHealthConcurrency = configuration.health.maxConcurrentChecks
        let fixed =
            Self.coreReserve + (metrics?.descriptors ?? 0) + (admin?.descriptors ?? 0) + (dns?.descriptors ?? 0)
            + Self.healthCheckNodePortShare
        let affordable = (descriptorLimit - fixed) / Self.descriptorsPerCheck
        let needed = fixed + Self.minimumHealthConcurrency * Self.descriptorsPerCheck
        guard affordable >= Self.minimumHealthConcurrency else {
            throw AgentError(
                .resources,
                "the open-file limit (RLIMIT_NOFILE) is \(descriptorLimit) and its hard limit allows no more; "
                    + "ipvsd needs at least \(needed) (\(Self.coreReserve) core, "
                    + "\(metrics?.descriptors ?? 0) metrics listener, \(admin?.descriptors ?? 0) admin listener, "
                    + "\(dns?.descriptors ?? 0) dns listener, "
                    + "\(Self.healthCheckNodePortShare) healthCheckNodePort listeners, "
                    + "\(Self.minimumHealthConcurrency * Self.descriptorsPerCheck) health checks): "
                    + "raise it (LimitNOFILE= in the systemd unit, ulimit -n)"
            )
        }
        healthConcurrency = min(max(1, requestedHealthConcurrency), affordable)
    }

    /// Whether the configured health concurrency had to be lowered to fit.
    public var isHealthClamped: Bool { healthConcurrency < requestedHealthConcurrency }

    /// A one-line explanation of the clamp, for a warning; nil when nothing was clamped.
    public var clampWarning: String? {
        guard isHealthClamped else { return nil }
        return "health.maxConcurrentChecks \(requestedHealthConcurrency) does not fit the open-file limit "
            + "\(descriptorLimit); running \(healthConcurrency) checks at once (raise LimitNOFILE to allow more)"
    }

    /// Raises the soft RLIMIT_NOFILE to the hard limit (at most ``maximumDescriptorLimit``) and returns
    /// the soft limit in force afterwards. Never lowers it.
    /// - Throws: ``AgentError`` when the limit cannot be read.
    @discardableResult
    public static func raiseDescriptorLimit() throws(AgentError) -> Int {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 else {
            throw AgentError.system(.resources, "getrlimit(RLIMIT_NOFILE)")
        }
        let wanted = min(limit.rlim_max, rlim_t(maximumDescriptorLimit))
        if limit.rlim_cur < wanted {
            var raised = limit
            raised.rlim_cur = wanted
            if setrlimit(Int32(RLIMIT_NOFILE.rawValue), &raised) == 0 { return Int(wanted) }
        }
        // RLIM_INFINITY does not fit an Int; nothing below counts on more than the maximum anyway.
        return Int(min(limit.rlim_cur, rlim_t(maximumDescriptorLimit)))
    }

    /// Raises the limit and divides it for `configuration`: what every ipvsd command does first.
    /// - Throws: ``AgentError`` when the limit is too low for the configuration.
    public static func establish(for configuration: AgentConfiguration) throws(AgentError) -> ResourceBudget {
        try ResourceBudget(descriptorLimit: raiseDescriptorLimit(), configuration: configuration)
    }
}

/// The limits of one HTTP listener: how many connections it holds, how long a connection may sit without
/// completing a request, and how large a request may be. One place for all of them; see
/// ``ResourceBudget`` for how they fit the descriptor limit.
public struct HTTPListenerLimits: Sendable, Equatable {
    /// Connections held at once. A connection beyond it evicts the oldest one that has no request in
    /// progress (a half-sent request, or an idle keep-alive connection); when every held connection has a
    /// request in progress, the new one is closed.
    public var maxConnections: Int
    /// Connections the server may hold beyond `maxConnections` for an instant: it accepts up to four
    /// connections per read before the cap's evictions take effect. Accepting stops at the sum.
    public var acceptSlack: Int = 8
    /// A connection that has not completed a request head (or sat idle after a response) for this long is
    /// closed, so half-sent requests cannot hold descriptors.
    public var idleTimeout: Duration = .seconds(5)
    /// The largest request head (request line and headers, bytes).
    public var maxHeadBytes: Int = 8 * 1024
    /// The largest request body (bytes); larger ones are answered 413 and the connection closed.
    public var maxBodyBytes: Int = 1024

    public init(maxConnections: Int) { self.maxConnections = maxConnections }

    /// Descriptors the listener may hold: its connections and the listening socket.
    public var descriptors: Int { maxConnections + acceptSlack + 1 }

    /// One healthCheckNodePort: a load balancer's probes from a few sources, one request per connection.
    public static let healthCheckNodePort: HTTPListenerLimits = {
        var limits = HTTPListenerLimits(maxConnections: 4)
        limits.acceptSlack = 2
        limits.maxBodyBytes = 0
        return limits
    }()

    /// /metrics, /healthz, /readyz: a few scrapers and probes; Prometheus keeps its connection alive.
    public static let metrics = HTTPListenerLimits(maxConnections: 64)
    /// The admin API: one connection per ipvsctl call. No request takes a body.
    public static let admin: HTTPListenerLimits = {
        var limits = HTTPListenerLimits(maxConnections: 16)
        limits.maxBodyBytes = 0
        return limits
    }()
}
