import IPVS
import KubernetesAPI
import KubernetesWire
import LoadBalancer

/// The Kubernetes API as the source of desired state (docs/ipvsd.md, "Kubernetes API source").
extension Agent {
    /// Applies a delta from the API source: only the virtual servers it names change
    /// (`LoadBalancerState.updateDesired`), and only those whose value differs are synced. The first delta
    /// (both resources listed) is the complete state: until it arrives the agent neither reads nor changes
    /// the IPVS table, as with manifests.
    /// - Parameter initial: whether this is the source's first, complete delta.
    public func applyKubernetesChanges(
        _ changes: [VirtualServer.ID: DesiredVirtualServer?],
        initial: Bool,
        at now: ContinuousClock.Instant = .now
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
        if initial {
            hasDesiredState = true
            logger.info(
                "Kubernetes API listed",
                metadata: ["virtual_servers": "\(core.desired.virtualServers.count)"]
            )
        }
        publishHealthTargets()
        if !changed.isEmpty || initial { markPending(now) }
    }

    /// Sets where the status reads the API source's per-resource state.
    public func setKubernetesStatusSource(_ source: @escaping @Sendable () -> [ResourceStatus]) {
        kubernetesStatus = source
    }
}
