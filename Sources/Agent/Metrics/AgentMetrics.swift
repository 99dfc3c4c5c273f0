import IPVS
import Metrics
import Prometheus
import ServiceTables

/// The agent's Prometheus metrics. Each agent has its own registry, so tests can run several agents in one
/// process; `ipvsd` also bootstraps swift-metrics with it, so the health monitor's metrics land there too.
public final class AgentMetrics: Sendable {
    public let registry: PrometheusCollectorRegistry
    public let factory: PrometheusMetricsFactory
    let syncErrors: Metrics.Counter
    let manifestErrors: Metrics.Counter
    /// 1 while the last manifest load failed and the last good desired state stays programmed, else 0.
    let desiredStateStale: Metrics.Gauge
    private let fullSyncDuration: Metrics.Timer
    private let incrementalSyncDuration: Metrics.Timer
    private let virtualServers: Metrics.Gauge
    private let realServers: Metrics.Gauge
    private let lastSyncOperations: Metrics.Gauge
    /// A Kubernetes watch event's line read → the kernel acknowledged what it changed (debounce included).
    private let kubernetesEventToKernel: Metrics.Timer

    public init(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) {
        self.registry = registry
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets["ipvsd_sync_duration_seconds"] = [
            .microseconds(100), .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50),
            .milliseconds(100), .milliseconds(500), .seconds(1), .seconds(5), .seconds(10),
        ]
        factory.durationHistogramBuckets["ipvsd_kubernetes_event_to_kernel_seconds"] = [
            .milliseconds(1), .milliseconds(5), .milliseconds(25), .milliseconds(100), .milliseconds(150),
            .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(5), .seconds(30),
        ]
        self.factory = factory
        syncErrors = Metrics.Counter(label: "ipvsd_sync_errors_total", factory: factory)
        manifestErrors = Metrics.Counter(label: "ipvsd_manifest_errors_total", factory: factory)
        desiredStateStale = Metrics.Gauge(label: "ipvsd_desired_state_stale", factory: factory)
        fullSyncDuration = Metrics.Timer(
            label: "ipvsd_sync_duration_seconds",
            dimensions: [("kind", "full")],
            factory: factory
        )
        incrementalSyncDuration = Metrics.Timer(
            label: "ipvsd_sync_duration_seconds",
            dimensions: [("kind", "incremental")],
            factory: factory
        )
        virtualServers = Metrics.Gauge(label: "ipvsd_virtual_servers", factory: factory)
        realServers = Metrics.Gauge(label: "ipvsd_real_servers", factory: factory)
        lastSyncOperations = Metrics.Gauge(label: "ipvsd_last_sync_operations", factory: factory)
        kubernetesEventToKernel = Metrics.Timer(label: "ipvsd_kubernetes_event_to_kernel_seconds", factory: factory)
    }

    func recordKubernetesEvent(_ latency: Duration) {
        kubernetesEventToKernel.recordNanoseconds(latency.nanoseconds)
    }

    func recordSync(_ report: SyncReportValue, counts: (services: Int, realServers: Int)) {
        (report.kind == .full ? fullSyncDuration : incrementalSyncDuration).recordNanoseconds(
            report.duration.nanoseconds
        )
        virtualServers.record(counts.services)
        realServers.record(counts.realServers)
        lastSyncOperations.record(report.operations)
    }

    /// Counts operations by kind and outcome: `ipvsd_operations_total{op="add_server",result="ok"}`.
    func recordOperations(_ sent: OperationTally, failures: [BulkApplyResult.Failure]) {
        let failed = OperationTally(failures.lazy.map(\.operation))
        for (kind, count) in sent.nonZero {
            let bad = failed[kind]
            if count > bad {
                Metrics.Counter(
                    label: "ipvsd_operations_total",
                    dimensions: [("op", kind.label), ("result", "ok")],
                    factory: factory
                )
                .increment(by: count - bad)
            }
            if bad > 0 {
                Metrics.Counter(
                    label: "ipvsd_operations_total",
                    dimensions: [("op", kind.label), ("result", "failed")],
                    factory: factory
                ).increment(by: bad)
            }
        }
    }
}
