import IPVS
import KubernetesAPI
import KubernetesManifests
import KubernetesWire
import ServiceTables

/// The Kubernetes API as the source of desired state (docs/ipvsd.md, "Kubernetes API source").
extension Agent {
    /// Applies a delta from the API source: only the virtual servers it names change
    /// (`LoadBalancerState.updateDesired`), and only those whose value differs are synced. The first delta
    /// (both resources listed) is the complete state: until it arrives the agent neither reads nor changes
    /// the IPVS table, as with manifests.
    /// - Parameters:
    ///   - initial: whether this is the source's first, complete delta.
    ///   - receivedAt: when the watch event behind the delta was read; a delta that changes a virtual server
    ///     is observed in `ipvsd_kubernetes_event_to_kernel_seconds` once a sync has programmed it.
    public func applyKubernetesChanges(
        _ changes: [VirtualServer.ID: DesiredVirtualServer?],
        initial: Bool,
        at now: ContinuousClock.Instant = .now,
        receivedAt: ContinuousClock.Instant? = WatchEventClock.receivedAt
    ) {
        var accepted = changes
        if let listener = ReservedListener(configuration.metricsAddress) {
            for case (let id, .some) in changes {
                guard case .service(let proto, let address, let port) = id, proto == .tcp,
                    listener.captures(address, port)
                else { continue }
                logger.error(
                    "virtual server refused: it would capture ipvsd's own metrics listener",
                    metadata: ["vs": "\(id)", "metrics_address": "\(configuration.metricsAddress)"]
                )
                accepted.updateValue(nil, forKey: id)
            }
        }
        let changed = core.updateDesired(accepted)
        dirty.formUnion(changed)
        // Bounded: a burst beyond it (a whole cluster's rollout in one debounce) is not observed one by one.
        if let receivedAt, !changed.isEmpty, kubernetesEventsPending.count < Self.kubernetesEventsPendingLimit {
            kubernetesEventsPending.append(receivedAt)
        }
        if initial {
            hasDesiredState = true
            logger.info(
                "Kubernetes API listed",
                metadata: ["virtual_servers": "\(core.desired.virtualServers.count)"]
            )
            // What the lists freed (pages, their node trees, the decode's garbage) goes back to the kernel
            // before the first sync allocates its own: otherwise both count in the first load's peak.
            HeapPolicy.returnFreedPages()
        }
        publishHealthTargets()
        // Any update may change names (a headless Service's endpoints change no virtual server).
        namesStale = true
        markPending(now)
    }

    static let kubernetesEventsPendingLimit = 10_000

    /// A sync succeeded: every pending event's changes are in the kernel, acknowledged at `end`.
    func observeKubernetesEvents(at end: ContinuousClock.Instant) {
        for receivedAt in kubernetesEventsPending { metrics.recordKubernetesEvent(end - receivedAt) }
        kubernetesEventsPending = []
    }

    /// Takes the API source's name table (DNS, `explain`) when it changed: once per debounced tick, not per
    /// event, since assembling it reads every Service's entry.
    func refreshKubernetesNames() async {
        namesStale = false
        guard let kubernetesNames, let (version, table) = await kubernetesNames(kubernetesNamesVersion) else {
            return
        }
        kubernetesNamesVersion = version
        if table != names || !namesPublished {
            names = table
            namesPublished = true
            onNames?(names)
        }
    }

    /// Takes the healthCheckNodePort answers from the API source (a manifest build carries them in the
    /// desired state; the API source's per-Service builds hand them over here).
    public func setKubernetesHealthCheckNodePorts(_ answers: [UInt16: HealthCheckNodePort]) {
        kubernetesHealthCheckNodePorts = answers
        publishHealthCheckNodePorts()
    }

    /// Sets where the name table comes from with the API source: given the version last taken, the table
    /// and its version when it changed since.
    public func setKubernetesNamesSource(
        _ source: @escaping @Sendable (_ ifNewerThan: Int) async -> (version: Int, table: ServiceNameTable)?
    ) {
        kubernetesNames = source
    }

    /// Sets where the status reads the API source's per-resource state.
    public nonisolated func setKubernetesStatusSource(_ source: @escaping @Sendable () -> [ResourceStatus]) {
        board.setKubernetesStatus(source)
    }
}
