import IPVS

/// Binds the virtual IPs, so the host accepts packets for them and IPVS sees them.
///
/// What it binds is the agent's alone: every address bound through it is one the agent manages.
public protocol AddressBinder: Sendable {
    /// Creates the interface when missing and sets it up.
    func prepare() throws(IPVSError)
    func addresses() throws(IPVSError) -> Set<IPAddress>
    func add(_ address: IPAddress) throws(IPVSError)
    /// Binds each of `addresses`; returns those that failed, with their errors.
    func add(_ addresses: [IPAddress]) -> [(address: IPAddress, error: IPVSError)]
    func remove(_ address: IPAddress) throws(IPVSError)
}

extension AddressBinder {
    /// One at a time.
    public func add(_ addresses: [IPAddress]) -> [(address: IPAddress, error: IPVSError)] {
        var failures: [(address: IPAddress, error: IPVSError)] = []
        for address in addresses {
            do throws(IPVSError) { try add(address) } catch { failures.append((address, error)) }
        }
        return failures
    }
}

/// ``AddressBinder`` over rtnetlink: a virtual IP is bound as a local route through the loopback device
/// (`ip route show table local dev lo proto 168`), not as an address on the agent's dummy interface.
///
/// An address would do the same (its kernel route is exactly such a route), but the kernel adds the n-th
/// address to an interface in O(n): 50,000 ClusterIPs took 175 s to bind natively, 0.8 s as routes
/// (HostNetwork.addLocalRoute). The routes go through `lo` and not the dummy because the kernel flushes
/// every IPv4 route through an interface when its last IPv4 address goes or it is set down, and would not
/// put them back; `lo` keeps 127.0.0.1 and stays up.
///
/// Addresses on the dummy still count as bound, and are removed when unwanted: those of an earlier release
/// are turned into routes by ``prepare()``, and one added by hand with a wider prefix is kept only while a
/// virtual server uses it.
public struct DummyInterfaceBinder: AddressBinder {
    public let network: HostNetwork
    public let interface: String
    /// The device the local routes go through.
    public static let routeDevice = "lo"

    public init(network: HostNetwork, interface: String) {
        self.network = network
        self.interface = interface
    }

    /// Creates the interface and sets `lo` up (a fresh network namespace starts with it down, and the host's
    /// own connections to a VIP are delivered through it), then turns each host address on the interface (/32,
    /// /128: how releases before local routes bound a VIP) into a local route. The route goes in before the
    /// address goes, so the host never stops accepting the VIP; a kill in between leaves both, and the next
    /// start finishes the move.
    public func prepare() throws(IPVSError) {
        try network.ensureDummyInterface(named: interface)
        try network.ensureUp(Self.routeDevice)
        for entry in try network.hostAddresses(on: interface) {
            try network.addLocalRoute(entry, on: Self.routeDevice)
            try network.remove(entry, from: interface)
        }
    }

    public func addresses() throws(IPVSError) -> Set<IPAddress> {
        try network.localRoutes(on: Self.routeDevice).union(network.addresses(on: interface))
    }

    public func add(_ address: IPAddress) throws(IPVSError) {
        try network.addLocalRoute(address, on: Self.routeDevice)
    }

    /// Looks `lo` up once for the whole batch (a lookup per VIP doubled the round trips of a first sync).
    public func add(_ addresses: [IPAddress]) -> [(address: IPAddress, error: IPVSError)] {
        do throws(IPVSError) {
            return try network.addLocalRoutes(addresses, on: Self.routeDevice)
        } catch {
            return addresses.map { ($0, error) }
        }
    }

    /// Deletes the route; only when there is none does it look for an address on the interface (by hand, or
    /// left by a move a kill interrupted: a full sync finds it still bound and calls this again).
    public func remove(_ address: IPAddress) throws(IPVSError) {
        if try network.removeLocalRoute(address, from: Self.routeDevice) { return }
        try network.remove(address, from: interface)
    }
}
