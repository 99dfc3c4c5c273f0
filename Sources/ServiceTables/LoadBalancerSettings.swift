import IPVS

/// Tunables of the load-balancer core.
public struct LoadBalancerSettings: Sendable, Hashable {
    /// How long a draining real server keeps weight 0 before it is deleted even with connections left.
    public var gracePeriod: Duration
    /// Which masquerade rules the core keeps (``LoadBalancerState/masqueradeRules``); `none` keeps none.
    public var masquerade: MasqueradeMode

    public init(gracePeriod: Duration = .seconds(30), masquerade: MasqueradeMode = .none) {
        self.gracePeriod = gracePeriod
        self.masquerade = masquerade
    }
}

/// One use of a health target: the real server of a virtual server whose serving depends on it.
public struct HealthReference: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var virtualServer: VirtualServer.ID
    public var realServer: RealServer.ID

    public init(virtualServer: VirtualServer.ID, realServer: RealServer.ID) {
        self.virtualServer = virtualServer
        self.realServer = realServer
    }

    /// `10.0.0.1:80/tcp -> 10.1.0.5:8080`.
    public var description: String { "\(virtualServer) -> \(realServer)" }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.virtualServer, lhs.realServer) < (rhs.virtualServer, rhs.realServer)
    }
}
