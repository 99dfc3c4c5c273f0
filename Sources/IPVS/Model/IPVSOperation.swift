/// One change to the kernel's IPVS state; bulk apply sends many in few system calls.
public enum IPVSOperation: Hashable, Sendable, CustomStringConvertible {
    case addService(VirtualServer)
    case updateService(VirtualServer)
    case deleteService(VirtualServer.ID)
    case addServer(RealServer, to: VirtualServer.ID)
    case updateServer(RealServer, in: VirtualServer.ID)
    case deleteServer(RealServer.ID, from: VirtualServer.ID)
    /// Zeroes the counters of one service and its real servers, or of everything when nil.
    case zero(VirtualServer.ID?)
    /// Deletes every virtual service.
    case flush
    case setTimeouts(Timeouts)
    case startDaemon(SyncDaemon)
    case stopDaemon(SyncDaemon.State)

    public var description: String {
        switch self {
        case .addService(let vs): "add service \(vs.id)"
        case .updateService(let vs): "update service \(vs.id)"
        case .deleteService(let id): "delete service \(id)"
        case .addServer(let rs, let vs): "add real server \(rs.id) to \(vs)"
        case .updateServer(let rs, let vs): "update real server \(rs.id) in \(vs)"
        case .deleteServer(let rs, let vs): "delete real server \(rs) from \(vs)"
        case .zero(let id): id.map { "zero counters of \($0)" } ?? "zero all counters"
        case .flush: "flush"
        case .setTimeouts: "set timeouts"
        case .startDaemon(let daemon): "start \(daemon.state) sync daemon"
        case .stopDaemon(let state): "stop \(state) sync daemon"
        }
    }
}
