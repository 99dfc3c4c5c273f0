/// The sysctls the agent manages, with documented defaults and why each.
///
/// All of them are per network namespace. The `net/ipv4/vs/` ones exist once the `ip_vs` module is loaded
/// (opening an ``IPVSClient`` loads it). See docs/host-network.md.
public struct IPVSSysctls: Sendable, Hashable {
    /// `net/ipv4/vs/conntrack`: keep netfilter connection tracking for IPVS connections.
    ///
    /// Needed when iptables SNAT/masquerade or conntrack-based filtering applies to load-balanced traffic
    /// (the kernel default, 0, makes IPVS bypass conntrack and such rules miss its packets).
    public var conntrack: Bool
    /// `net/ipv4/vs/expire_nodest_conn`: drop connections whose real server was deleted.
    ///
    /// With 0 (the kernel default) packets of such connections are silently dropped until they time out;
    /// with 1 the entry expires at the next packet, so the client sees a reset and reconnects elsewhere.
    public var expireNodestConn: Bool
    /// `net/ipv4/vs/expire_quiescent_template`: expire persistence templates of weight-0 real servers.
    ///
    /// Draining sets a server's weight to 0; without this, persistent clients keep sticking to it.
    public var expireQuiescentTemplate: Bool
    /// `net/ipv4/vs/conn_reuse_mode`: what a new connection reusing an old connection's ports does.
    ///
    /// 1 (the kernel default) reschedules it, so clients reusing source ports reach current real servers
    /// and never a deleted one. kube-proxy wrote 0 on kernels before 5.9, where 1 with conntrack=1 dropped
    /// the first SYN and cost a 1 s retransmission (kubernetes#81775); Linux 5.9 fixed that (the commit
    /// kube-proxy cites is 35dfb013149f) and kube-proxy leaves the kernel's 1 there since. 0 sends new
    /// connections on reused ports to the old, possibly removed, real server (kubernetes#70747).
    public var connReuseMode: Int
    /// `net/ipv4/conf/all/arp_ignore=1` and `arp_announce=2`: answer ARP only for addresses of the asking
    /// interface and source ARP from the outgoing interface's address.
    ///
    /// Virtual addresses sit on the dummy interface; without this the host answers ARP for them on every
    /// link and could steal traffic meant for another load balancer or the VIP's real owner.
    public var strictARP: Bool

    /// The agent's defaults: conntrack on, expire both kinds of stale entries, reschedule reused ports, strict ARP.
    public init(
        conntrack: Bool = true,
        expireNodestConn: Bool = true,
        expireQuiescentTemplate: Bool = true,
        connReuseMode: Int = 1,
        strictARP: Bool = true
    ) {
        self.conntrack = conntrack
        self.expireNodestConn = expireNodestConn
        self.expireQuiescentTemplate = expireQuiescentTemplate
        self.connReuseMode = connReuseMode
        self.strictARP = strictARP
    }

    /// name -> value pairs to write, in a fixed order.
    ///
    /// `strictARP == false` writes nothing for ARP: the agent leaves the host's ARP policy alone rather than
    /// loosening one an operator set.
    public var settings: [(name: String, value: String)] {
        var settings: [(name: String, value: String)] = [
            ("net/ipv4/vs/conntrack", Self.flag(conntrack)),
            ("net/ipv4/vs/expire_nodest_conn", Self.flag(expireNodestConn)),
            ("net/ipv4/vs/expire_quiescent_template", Self.flag(expireQuiescentTemplate)),
            ("net/ipv4/vs/conn_reuse_mode", String(connReuseMode)),
        ]
        if strictARP {
            settings.append(("net/ipv4/conf/all/arp_ignore", "1"))
            settings.append(("net/ipv4/conf/all/arp_announce", "2"))
        }
        return settings
    }

    private static func flag(_ value: Bool) -> String { value ? "1" : "0" }
}

extension HostNetwork {
    /// Writes every setting of `sysctls` in this namespace, stopping at the first failure.
    ///
    /// Writes only values that differ from what the kernel holds, so applying twice changes nothing.
    /// - Throws: the first failure, naming the sysctl and the value.
    public func apply(_ sysctls: IPVSSysctls) throws(IPVSError) {
        for (name, value) in sysctls.settings where try sysctl(name) != value {
            try setSysctl(name, to: value)
        }
    }
}
