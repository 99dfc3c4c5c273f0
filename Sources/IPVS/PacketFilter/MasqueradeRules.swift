/// What the agent's nftables table masquerades, as typed values: the only input of the ruleset text.
///
/// kube-proxy's IPVS mode does the same with ipsets matched in its nat chains (pkg/proxy/ipvs/proxier.go):
/// KUBE-LOOP-BACK ("endpointIP,proto:port,endpointIP", matched in POSTROUTING) for hairpin traffic, and
/// KUBE-MARK-MASQ for clients of external addresses and, with --masquerade-all, of cluster IPs.
public struct MasqueradeRules: Sendable, Hashable {
    /// An address, a transport protocol and a port.
    public struct Destination: Sendable, Hashable, Comparable, CustomStringConvertible {
        public var address: IPAddress
        public var proto: IPProtocol
        public var port: UInt16

        public init(address: IPAddress, proto: IPProtocol, port: UInt16) {
            self.address = address
            self.proto = proto
            self.port = port
        }

        public var description: String {
            address.family == .inet6 ? "\(proto):[\(address)]:\(port)" : "\(proto):\(address):\(port)"
        }

        public static func < (lhs: Self, rhs: Self) -> Bool {
            (lhs.address, lhs.proto, lhs.port) < (rhs.address, rhs.proto, rhs.port)
        }
    }

    /// Endpoints that may be picked as the backend of their own connection: a packet from the endpoint's
    /// address to that same address and port (after IPVS chose it) is masqueraded, so the reply goes back
    /// through IPVS instead of from the pod straight to itself.
    public var hairpin: Set<Destination>
    /// Virtual servers whose clients are all masqueraded: the backend sees the node's address, and replies
    /// return through this node even when the client reached it from elsewhere.
    public var masqueraded: Set<Destination>

    public init(hairpin: Set<Destination> = [], masqueraded: Set<Destination> = []) {
        self.hairpin = hairpin
        self.masqueraded = masqueraded
    }
}
