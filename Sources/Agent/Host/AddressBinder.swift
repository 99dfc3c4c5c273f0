import IPVS

/// Binds the virtual IPs on the agent's interface, so the host accepts packets for them and IPVS sees them.
///
/// The interface belongs to the agent: every address on it is one the agent manages.
public protocol AddressBinder: Sendable {
    /// Creates the interface when missing and sets it up.
    func prepare() throws(IPVSError)
    func addresses() throws(IPVSError) -> Set<IPAddress>
    func add(_ address: IPAddress) throws(IPVSError)
    func remove(_ address: IPAddress) throws(IPVSError)
}

/// ``AddressBinder`` on a dummy interface over rtnetlink.
public struct DummyInterfaceBinder: AddressBinder {
    public let network: HostNetwork
    public let interface: String

    public init(network: HostNetwork, interface: String) {
        self.network = network
        self.interface = interface
    }

    public func prepare() throws(IPVSError) { try network.ensureDummyInterface(named: interface) }
    public func addresses() throws(IPVSError) -> Set<IPAddress> { try network.addresses(on: interface) }
    public func add(_ address: IPAddress) throws(IPVSError) { try network.add(address, to: interface) }
    public func remove(_ address: IPAddress) throws(IPVSError) { try network.remove(address, from: interface) }
}
