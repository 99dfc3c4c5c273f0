/// A virtual service: the address clients connect to, and how IPVS schedules their connections.
public struct VirtualServer: Hashable, Sendable, Identifiable {
    /// What identifies a virtual service in the kernel.
    public enum ID: Hashable, Sendable, Comparable, CustomStringConvertible {
        /// A protocol, address and port.
        case service(IPProtocol, IPAddress, port: UInt16)
        /// A firewall mark set by netfilter, for one address family.
        case firewallMark(UInt32, AddressFamily)

        /// The address family of the service.
        public var family: AddressFamily {
            switch self {
            case .service(_, let address, _): address.family
            case .firewallMark(_, let family): family
            }
        }

        /// `10.0.0.1:80/tcp`, `[2001:db8::1]:443/tcp` or `fwmark 7/ipv6`.
        public var description: String {
            switch self {
            case .service(let proto, let address, let port):
                let host = address.family == .inet6 ? "[\(address)]" : "\(address)"
                return "\(host):\(port)/\(proto)"
            case .firewallMark(let mark, let family):
                return family == .inet ? "fwmark \(mark)" : "fwmark \(mark)/\(family)"
            }
        }

        public static func < (lhs: ID, rhs: ID) -> Bool {
            switch (lhs, rhs) {
            case (.service(let p1, let a1, let port1), .service(let p2, let a2, let port2)):
                (p1, a1, port1) < (p2, a2, port2)
            case (.firewallMark(let m1, let f1), .firewallMark(let m2, let f2)):
                (m1, f1.rawValue) < (m2, f2.rawValue)
            case (.service, .firewallMark): true
            case (.firewallMark, .service): false
            }
        }
    }

    public var id: ID
    /// The scheduling algorithm. ipvsadm's default is `wlc`.
    public var scheduler: Scheduler
    /// Service flags; `hashed` is never present (the kernel owns it).
    public var flags: ServiceFlags
    /// Persistence timeout in seconds (meaningful with `.persistent`).
    public var timeout: UInt32
    /// Persistence granularity: for IPv4 the netmask in host order (`0xFFFFFF00` is /24), for IPv6 the
    /// prefix length (1...128).
    public var netmask: UInt32
    /// Persistence engine, such as `sip`, or nil.
    public var persistenceEngine: String?

    /// Creates a virtual service with ipvsadm's defaults: `wlc`, no persistence, a full-length netmask.
    public init(
        id: ID,
        scheduler: Scheduler = .weightedLeastConnection,
        flags: ServiceFlags = [],
        timeout: UInt32 = 0,
        netmask: UInt32? = nil,
        persistenceEngine: String? = nil
    ) {
        self.id = id
        self.scheduler = scheduler
        self.flags = flags
        self.timeout = timeout
        self.netmask = netmask ?? VirtualServer.fullNetmask(for: id.family)
        self.persistenceEngine = persistenceEngine
    }

    /// The netmask that makes persistence per client address: 255.255.255.255 or /128.
    public static func fullNetmask(for family: AddressFamily) -> UInt32 {
        family == .inet6 ? 128 : 0xFFFF_FFFF
    }

    /// Whether connections from one client stick to one real server for `timeout` seconds.
    public var isPersistent: Bool { flags.contains(.persistent) }
}

/// A virtual service as the kernel reports it, with its counters.
public struct ObservedVirtualServer: Hashable, Sendable {
    public var virtualServer: VirtualServer
    public var statistics: Statistics

    public init(virtualServer: VirtualServer, statistics: Statistics = Statistics()) {
        self.virtualServer = virtualServer
        self.statistics = statistics
    }
}
