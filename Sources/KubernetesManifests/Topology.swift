import ServiceTables

/// Which of a Service port's endpoints this node uses, following kube-proxy's pkg/proxy/topology.go
/// (`CategorizeEndpoints`, `topologyModeFromHints`, `availableForTopology`). The ready/serving-terminating
/// fallback that follows the filtering there is the core's (`ServingPolicy`), applied to what this returns.
enum Topology {
    /// topology.go's topology modes: "" (every endpoint), PreferSameZone and PreferSameNode.
    enum Mode: Equatable {
        case none
        case sameZone
        case sameNode
    }

    /// The endpoints of one Service port that serve traffic under `policy` on node `nodeName` in `zone`.
    ///
    /// - Local: only endpoints whose `nodeName` is this node (topology hints do not apply, as in
    ///   `CategorizeEndpoints`, which builds localEndpoints without them). None: the virtual server has no
    ///   real servers, and its traffic is dropped, as kube-proxy's is.
    /// - Cluster: every endpoint, or only those hinted for this node or zone when `mode` says so.
    static func select<Entry>(
        _ entries: [Entry],
        endpoint: (Entry) -> Endpoint,
        policy: TrafficPolicy,
        nodeName: String,
        zone: String
    ) -> [Entry] {
        switch policy {
        case .local:
            guard !nodeName.isEmpty else { return [] }
            return entries.filter { endpoint($0).nodeName == nodeName }
        case .cluster:
            let mode = mode(entries.map(endpoint), nodeName: nodeName, zone: zone)
            if mode == .none { return entries }
            return entries.filter { available(endpoint($0), mode: mode, nodeName: nodeName, zone: zone) }
        }
    }

    /// topology.go's `topologyModeFromHints`: over ready endpoints only, same-node when every one has a node
    /// hint and one is hinted for this node (kube-proxy's PreferSameTrafficDistribution gate, on by default
    /// since Kubernetes 1.34), else same-zone when every one has a zone hint and one is hinted for this
    /// zone, else none. Any ready endpoint without hints, or no endpoint for this node's zone, falls back
    /// to every endpoint.
    static func mode(_ endpoints: [Endpoint], nodeName: String, zone: String) -> Mode {
        var hasReady = false
        var hasForNode = false
        var allHaveNodeHints = true
        var hasForZone = false
        var allHaveZoneHints = true
        for endpoint in endpoints where endpoint.conditions.ready {
            hasReady = true
            if endpoint.nodeHints.isEmpty {
                allHaveNodeHints = false
            } else if endpoint.nodeHints.contains(nodeName) {
                hasForNode = true
            }
            if endpoint.zoneHints.isEmpty {
                allHaveZoneHints = false
            } else if endpoint.zoneHints.contains(zone) {
                hasForZone = true
            }
        }
        guard hasReady else { return .none }
        if allHaveNodeHints && hasForNode { return .sameNode }
        if allHaveZoneHints && hasForZone { return .sameZone }
        return .none
    }

    /// topology.go's `availableForTopology`: no fallback here; it happened when the mode was chosen.
    static func available(_ endpoint: Endpoint, mode: Mode, nodeName: String, zone: String) -> Bool {
        switch mode {
        case .none: true
        case .sameNode: endpoint.nodeHints.contains(nodeName)
        case .sameZone: endpoint.zoneHints.contains(zone)
        }
    }
}
