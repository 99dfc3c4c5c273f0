import IPVS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

extension IPVSTable {
    /// Builds a table from what the kernel reported.
    public init(_ snapshot: [ServiceEntry]) {
        self.init(
            entries: snapshot.map { Entry(service: $0.service.virtualServer, servers: $0.servers.map(\.realServer)) }
        )
    }

    /// The table as the kernel would list it (no counters).
    public var snapshot: [ServiceEntry] {
        entries.map { entry in
            ServiceEntry(
                service: ObservedVirtualServer(virtualServer: entry.service),
                servers: entry.servers.map { ObservedRealServer(realServer: $0) }
            )
        }
    }
}

/// Plans the operations that make the kernel's table equal to a desired one (level-triggered: planning again
/// after applying the plan gives nothing).
public enum ApplyPlanner {
    /// Whether two real servers are the same configuration. The kernel reports any forwarding method to a
    /// local address as `local`, and keeps tunnel settings only for tunnels.
    static func sameServer(desired: RealServer, observed: RealServer) -> Bool {
        var d = desired
        var o = observed
        if o.forwarding == .local { d.forwarding = .local }
        if d.forwarding != .tunnel {
            d.tunnelType = .ipip
            d.tunnelPort = 0
            d.tunnelFlags = []
            o.tunnelType = .ipip
            o.tunnelPort = 0
            o.tunnelFlags = []
        }
        return d == o
    }

    static func sameService(desired: VirtualServer, observed: VirtualServer) -> Bool {
        var d = desired
        var o = observed
        if d.persistenceEngine == "" { d.persistenceEngine = nil }
        if o.persistenceEngine == "" { o.persistenceEngine = nil }
        if !d.flags.contains(.persistent) {
            d.timeout = 0
            o.timeout = 0
        }
        return d == o
    }

    /// The operations, in a safe order: deletions of services, then additions and updates of services, then
    /// for each kept service the addition and update of its real servers before the deletion of the old
    /// ones, so a service whose servers are all replaced never has none.
    public static func plan(desired: IPVSTable, observed: [ServiceEntry], timeouts: Timeouts? = nil) -> [IPVSOperation]
    {
        var operations: [IPVSOperation] = []
        let wanted = Dictionary(desired.entries.map { ($0.service.id, $0) }, uniquingKeysWith: { a, _ in a })
        let current = Dictionary(observed.map { ($0.service.virtualServer.id, $0) }, uniquingKeysWith: { a, _ in a })
        for entry in IPVSSort.services(observed) where wanted[entry.service.virtualServer.id] == nil {
            operations.append(.deleteService(entry.service.virtualServer.id))
        }
        for entry in desired.entries {
            let id = entry.service.id
            guard let have = current[id] else {
                operations.append(.addService(entry.service))
                operations += entry.servers.map { .addServer($0, to: id) }
                continue
            }
            if !sameService(desired: entry.service, observed: have.service.virtualServer) {
                operations.append(.updateService(entry.service))
            }
            let haveServers = Dictionary(
                have.servers.map { ($0.realServer.id, $0.realServer) },
                uniquingKeysWith: { a, _ in a }
            )
            for server in entry.servers {
                if let existing = haveServers[server.id] {
                    if !sameServer(desired: server, observed: existing) {
                        operations.append(.updateServer(server, in: id))
                    }
                } else {
                    operations.append(.addServer(server, to: id))
                }
            }
            let wantedServers = Dictionary(entry.servers.map { ($0.id, $0) }, uniquingKeysWith: { a, _ in a })
            for server in have.servers where wantedServers[server.realServer.id] == nil {
                operations.append(.deleteServer(server.realServer.id, from: id))
            }
        }
        if let timeouts { operations.append(.setTimeouts(timeouts)) }
        return operations
    }

    /// The desired table of a restore file: its commands applied in order to an empty table.
    /// - Throws: ``RestoreFailure`` for bad lines, or lines that fail against the file's own state.
    public static func desiredTable(_ lines: [RestoreLine]) throws(RestoreFailure) -> (IPVSTable, Timeouts?) {
        var table = IPVSTable()
        var timeouts: Timeouts?
        var problems: [RestoreFailure.Problem] = []
        for line in lines {
            guard let operation = line.command.operation else { continue }
            switch operation {
            case .setTimeouts(let t): timeouts = t
            case .zero, .startDaemon, .stopDaemon: continue
            default:
                do throws(IPVSError) {
                    try table.apply(operation)
                } catch {
                    problems.append(
                        .init(line: line.line, message: KernelErrorText.message(error, operation: operation))
                    )
                }
            }
        }
        if !problems.isEmpty { throw RestoreFailure(problems: problems) }
        return (table, timeouts)
    }
}
