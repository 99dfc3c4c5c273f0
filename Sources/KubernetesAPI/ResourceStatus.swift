import KubernetesWire
import Metrics
import Synchronization

/// Where one resource's list-and-watch stands, for the agent's status and metrics.
public struct ResourceStatus: Sendable, Hashable {
    public enum State: String, Sendable {
        case starting, listing, watching
        /// Waiting after a failure; the last good objects stay held.
        case backingOff = "backing-off"
    }

    public var resource: APIResource
    public var state: State = .starting
    /// Whether a complete list was received (readiness waits for both resources).
    public var synced = false
    /// The last resourceVersion seen (list, event or bookmark); opaque.
    public var resourceVersion = ""
    /// Watches opened again after the server ended one or the connection broke (no list).
    public var watchRestarts = 0
    /// Lists after the first: after 410 Gone.
    public var relists = 0
    /// Failed requests and ERROR events.
    public var apiErrors = 0
    /// Objects, events and lines refused (malformed, over budget); what was held for them stays.
    public var rejectedObjects = 0
    /// The last failure, until a list or watch succeeds.
    public var lastError: String?

    public init(resource: APIResource) { self.resource = resource }
}

/// A resource's status, shared between its watcher (writer) and the agent (reader), with its Prometheus
/// counters.
final class StatusCell: Sendable {
    private let value: Mutex<ResourceStatus>
    private let watchRestarts: Metrics.Counter
    private let relists: Metrics.Counter
    private let apiErrors: Metrics.Counter
    private let rejected: Metrics.Counter
    private let watching: Metrics.Gauge

    init(_ resource: APIResource, factory: any MetricsFactory) {
        value = Mutex(ResourceStatus(resource: resource))
        let dimensions = [("resource", resource.rawValue)]
        watchRestarts = Metrics.Counter(
            label: "ipvsd_kubernetes_watch_restarts_total",
            dimensions: dimensions,
            factory: factory
        )
        relists = Metrics.Counter(label: "ipvsd_kubernetes_relists_total", dimensions: dimensions, factory: factory)
        apiErrors = Metrics.Counter(
            label: "ipvsd_kubernetes_api_errors_total",
            dimensions: dimensions,
            factory: factory
        )
        rejected = Metrics.Counter(
            label: "ipvsd_kubernetes_rejected_objects_total",
            dimensions: dimensions,
            factory: factory
        )
        watching = Metrics.Gauge(label: "ipvsd_kubernetes_watching", dimensions: dimensions, factory: factory)
    }

    var current: ResourceStatus { value.withLock { $0 } }

    func update(_ body: (inout ResourceStatus) -> Void) {
        let (before, after) = value.withLock { status in
            let before = status
            body(&status)
            return (before, status)
        }
        if after.watchRestarts > before.watchRestarts {
            watchRestarts.increment(by: after.watchRestarts - before.watchRestarts)
        }
        if after.relists > before.relists { relists.increment(by: after.relists - before.relists) }
        if after.apiErrors > before.apiErrors { apiErrors.increment(by: after.apiErrors - before.apiErrors) }
        if after.rejectedObjects > before.rejectedObjects {
            rejected.increment(by: after.rejectedObjects - before.rejectedObjects)
        }
        if after.state != before.state { watching.record(after.state == .watching ? 1 : 0) }
    }
}
