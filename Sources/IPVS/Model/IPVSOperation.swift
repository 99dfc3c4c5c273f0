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

extension IPVSOperation {
    /// What an operation does, without its payload: what counters and reports group operations by.
    public enum Kind: Int, CaseIterable, Sendable, Hashable {
        case addService, updateService, deleteService, addServer, updateServer, deleteServer, zero, flush,
            setTimeouts, startDaemon, stopDaemon

        /// The name metrics and logs use: `add_service`, `delete_server`, ...
        public var label: String {
            switch self {
            case .addService: "add_service"
            case .updateService: "update_service"
            case .deleteService: "delete_service"
            case .addServer: "add_server"
            case .updateServer: "update_server"
            case .deleteServer: "delete_server"
            case .zero: "zero"
            case .flush: "flush"
            case .setTimeouts: "set_timeouts"
            case .startDaemon: "start_daemon"
            case .stopDaemon: "stop_daemon"
            }
        }
    }

    public var kind: Kind {
        switch self {
        case .addService: .addService
        case .updateService: .updateService
        case .deleteService: .deleteService
        case .addServer: .addServer
        case .updateServer: .updateServer
        case .deleteServer: .deleteServer
        case .zero: .zero
        case .flush: .flush
        case .setTimeouts: .setTimeouts
        case .startDaemon: .startDaemon
        case .stopDaemon: .stopDaemon
        }
    }
}

/// How many operations of each kind, for reports that need no more than that of a batch.
public struct OperationTally: Sendable, Hashable {
    private var counts = [Int](repeating: 0, count: IPVSOperation.Kind.allCases.count)  // by raw value

    public init() {}

    public init(_ operations: some Sequence<IPVSOperation>) {
        add(operations)
    }

    public mutating func add(_ operations: some Sequence<IPVSOperation>) {
        for operation in operations { counts[operation.kind.rawValue] += 1 }
    }

    public subscript(kind: IPVSOperation.Kind) -> Int { counts[kind.rawValue] }

    /// Every operation counted.
    public var total: Int { counts.reduce(0, +) }

    /// The kinds counted at least once, with their counts, in declaration order.
    public var nonZero: [(kind: IPVSOperation.Kind, count: Int)] {
        IPVSOperation.Kind.allCases.compactMap { kind in
            let count = self[kind]
            return count > 0 ? (kind, count) : nil
        }
    }
}
