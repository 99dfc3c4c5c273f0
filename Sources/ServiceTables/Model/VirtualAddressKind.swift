import IPVS

/// A Service's internalTrafficPolicy or externalTrafficPolicy.
public enum TrafficPolicy: String, Sendable, Hashable, CaseIterable {
    /// Every usable endpoint in the cluster.
    case cluster = "Cluster"
    /// Only endpoints on this node; for external traffic the client's source address is kept.
    case local = "Local"
}

/// How clients reach a virtual server.
public enum VirtualAddressKind: Sendable, Hashable {
    /// A cluster IP, bound on the agent's interface.
    case clusterIP
    /// An external IP or a load-balancer ingress IP (bound on the agent's interface), with the Service's
    /// externalTrafficPolicy.
    case external(TrafficPolicy)
    /// A node address with the Service's nodePort, with its externalTrafficPolicy. The address is the node's
    /// own: the agent never binds or unbinds it.
    case nodePort(TrafficPolicy)

    /// Whether the agent binds the address on its interface.
    public var bindsAddress: Bool {
        if case .nodePort = self { return false }
        return true
    }

    /// The externalTrafficPolicy that applies, nil for a cluster IP.
    public var externalTrafficPolicy: TrafficPolicy? {
        switch self {
        case .clusterIP: nil
        case .external(let policy), .nodePort(let policy): policy
        }
    }
}

/// Which traffic the agent masquerades (config `masquerade`).
public enum MasqueradeMode: String, Sendable, Hashable, CaseIterable {
    /// Hairpin traffic (an endpoint reaching its own Service and picked as the backend) and clients of
    /// external addresses and node ports with externalTrafficPolicy: Cluster, as kube-proxy does by default.
    case hairpin
    /// As `hairpin`, and every client of a cluster IP too (kube-proxy's --masquerade-all).
    case all
    /// Nothing: the agent's nftables table is removed. Hairpin connections then get no answer.
    case none

    /// The rules for `state`; nil for `none` (no table at all).
    ///
    /// Hairpin entries cover every endpoint of every virtual server except those known to run on another
    /// node (`DesiredRealServer.onOtherNode`), as kube-proxy's KUBE-LOOP-BACK holds local endpoints only: a
    /// remote endpoint's packets never reach this node's IPVS with its own address as destination, so its
    /// element would never match. An endpoint whose node is not known (file sources often do not say, or
    /// the agent has no node name) keeps its element: it may be local.
    public func rules(for state: DesiredState) -> MasqueradeRules? {
        if self == .none { return nil }
        var rules = MasqueradeRules()
        for (id, service) in state.virtualServers {
            let part = contribution(of: id, service)
            rules.hairpin.formUnion(part.hairpin)
            if let masqueraded = part.masqueraded { rules.masqueraded.insert(masqueraded) }
        }
        return rules
    }

    /// What one virtual server adds to the rules: a hairpin element per real server that may be local, and
    /// the virtual server itself when its clients are masqueraded. Nothing for firewall-mark services or
    /// `none`.
    func contribution(
        of id: VirtualServer.ID,
        _ service: DesiredVirtualServer
    ) -> (hairpin: [MasqueradeRules.Destination], masqueraded: MasqueradeRules.Destination?) {
        guard self != .none, case .service(let proto, let address, let port) = id else { return ([], nil) }
        let hairpin: [MasqueradeRules.Destination] = service.realServers.values.compactMap {
            $0.onOtherNode ? nil : MasqueradeRules.Destination(address: $0.id.address, proto: proto, port: $0.id.port)
        }
        let masquerade: Bool =
            switch service.kind.externalTrafficPolicy {
            case .cluster?: true
            case .local?: false
            case nil: self == .all
            }
        return (hairpin, masquerade ? MasqueradeRules.Destination(address: address, proto: proto, port: port) : nil)
    }
}
