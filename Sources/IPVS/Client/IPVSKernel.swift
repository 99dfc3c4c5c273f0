/// What the rest of the project needs from the kernel's IPVS: the seam between the load-balancer core
/// and ``IPVSClient``, so the core can also run against an in-memory fake.
public protocol IPVSKernel: Sendable {
    func apply(_ operations: [IPVSOperation], progress: ((Int, Int) -> Void)?) -> BulkApplyResult
    /// See the default in `ApplyStream.swift`, which buffers; ``IPVSClient`` overlaps.
    func applyStreaming(_ body: (ApplyStream) -> Void) -> [AppliedBatch]
    func services() throws(IPVSError) -> [ObservedVirtualServer]
    func service(_ id: VirtualServer.ID) throws(IPVSError) -> ObservedVirtualServer
    func servers(of id: VirtualServer.ID) throws(IPVSError) -> [ObservedRealServer]
    func timeouts() throws(IPVSError) -> Timeouts
    func daemons() throws(IPVSError) -> [SyncDaemon]
    func info() throws(IPVSError) -> IPVSInfo
}
