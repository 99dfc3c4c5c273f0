import IPVS
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An in-memory ``IPVSKernel`` with the kernel's rules and errnos, which it takes from the library's
/// ``IPVSTable`` (one copy of them). It logs every write, counts reads, holds connection counts a test sets,
/// and can fail chosen operations.
public final class FakeIPVSKernel: IPVSKernel, Sendable {
    private struct Tables {
        var table = IPVSTable()
        /// (active, inactive) per real server, as traffic would leave them; gone with the server.
        var connections: [VirtualServer.ID: [RealServer.ID: (UInt32, UInt32)]] = [:]
        var log: [IPVSOperation] = []
        var readCount = 0
        var failures: [(matching: @Sendable (IPVSOperation) -> Bool, errno: Int32)] = []
    }

    private let tables = Mutex(Tables())

    public init() {}

    /// Every write applied (or attempted), in order.
    public var log: [IPVSOperation] { tables.withLock { $0.log } }

    /// How many read calls (`services`, `service`, `servers`, `timeouts`, `daemons`, `info`) happened.
    public var readCount: Int { tables.withLock { $0.readCount } }

    /// Forgets the log, so a test sees only what comes next.
    public func clearLog() { tables.withLock { $0.log.removeAll() } }

    /// The table as plain values, without counting a read: services and their real servers.
    public var contents: [VirtualServer.ID: (service: VirtualServer, servers: [RealServer.ID: RealServer])] {
        tables.withLock { t in
            Dictionary(
                uniqueKeysWithValues: t.table.entries.map { entry in
                    (
                        entry.service.id,
                        (entry.service, Dictionary(uniqueKeysWithValues: entry.servers.map { ($0.id, $0) }))
                    )
                }
            )
        }
    }

    /// Sets a real server's connection counts, as traffic would.
    public func setConnections(_ active: UInt32, _ inactive: UInt32, of server: RealServer.ID, in id: VirtualServer.ID)
    {
        tables.withLock { t in
            guard t.table.entry(id)?.servers.contains(where: { $0.id == server }) == true else { return }
            t.connections[id, default: [:]][server] = (active, inactive)
        }
    }

    /// Makes the next operation that `matching` accepts fail once with `errno` (ENOMEM unless given).
    public func failNext(errno: Int32 = ENOMEM, _ matching: @escaping @Sendable (IPVSOperation) -> Bool) {
        tables.withLock { $0.failures.append((matching, errno)) }
    }

    @discardableResult
    public func apply(_ operations: [IPVSOperation], progress: ((Int, Int) -> Void)?) -> BulkApplyResult {
        var failures: [BulkApplyResult.Failure] = []
        tables.withLock { t in
            for (index, operation) in operations.enumerated() {
                t.log.append(operation)
                do throws(IPVSError) {
                    if let injected = t.failures.firstIndex(where: { $0.matching(operation) }) {
                        throw IPVSError.kernel(errno: t.failures.remove(at: injected).errno, operation: operation)
                    }
                    try t.table.apply(operation)
                    Self.forgetConnections(after: operation, in: &t)
                } catch {
                    failures.append(.init(index: index, operation: operation, error: error))
                }
            }
        }
        progress?(operations.count, operations.count)
        return BulkApplyResult(operationCount: operations.count, failures: failures, sendCalls: 1)
    }

    /// A deleted real server or service takes its connection counts with it.
    private static func forgetConnections(after operation: IPVSOperation, in t: inout Tables) {
        switch operation {
        case .deleteServer(let server, let id): t.connections[id]?[server] = nil
        case .deleteService(let id): t.connections[id] = nil
        case .flush: t.connections.removeAll()
        default: break
        }
    }

    public func services() throws(IPVSError) -> [ObservedVirtualServer] {
        tables.withLock { t in
            t.readCount += 1
            return t.table.entries.map(\.service).sorted { $0.id < $1.id }.map {
                ObservedVirtualServer(virtualServer: $0)
            }
        }
    }

    public func service(_ id: VirtualServer.ID) throws(IPVSError) -> ObservedVirtualServer {
        let found = tables.withLock { t in
            t.readCount += 1
            return t.table.entry(id)
        }
        guard let found else { throw IPVSError(.notFound, "service \(id) does not exist", errno: ESRCH) }
        return ObservedVirtualServer(virtualServer: found.service)
    }

    public func servers(of id: VirtualServer.ID) throws(IPVSError) -> [ObservedRealServer] {
        let found = tables.withLock { t -> [ObservedRealServer]? in
            t.readCount += 1
            guard let entry = t.table.entry(id) else { return nil }
            let counts = t.connections[id] ?? [:]
            return entry.servers.map { server in
                let (active, inactive) = counts[server.id] ?? (0, 0)
                return ObservedRealServer(realServer: server, activeConnections: active, inactiveConnections: inactive)
            }
        }
        guard let found else { throw IPVSError(.notFound, "service \(id) does not exist", errno: ESRCH) }
        return found.sorted { $0.realServer.id < $1.realServer.id }
    }

    public func timeouts() throws(IPVSError) -> Timeouts {
        tables.withLock { $0.readCount += 1 }
        return Timeouts(tcp: 900, tcpFin: 120, udp: 300)
    }

    public func daemons() throws(IPVSError) -> [SyncDaemon] {
        tables.withLock { $0.readCount += 1 }
        return []
    }

    public func info() throws(IPVSError) -> IPVSInfo {
        tables.withLock { $0.readCount += 1 }
        return IPVSInfo(versionCode: 0x01_0201, connectionTableSize: 4096)
    }
}
