import IPVS
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An in-memory ``IPVSKernel`` with the kernel's errnos: adding what exists is EEXIST, a missing service
/// ESRCH, a missing real server ENOENT. It logs every write, counts reads and can fail chosen operations.
public final class FakeIPVSKernel: IPVSKernel, Sendable {
    private struct Tables {
        var services: [VirtualServer.ID: VirtualServer] = [:]
        var servers: [VirtualServer.ID: [RealServer.ID: ObservedRealServer]] = [:]
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
            t.services.mapValues { service in
                (service, (t.servers[service.id] ?? [:]).mapValues(\.realServer))
            }
        }
    }

    /// Sets a real server's connection counts, as traffic would.
    public func setConnections(_ active: UInt32, _ inactive: UInt32, of server: RealServer.ID, in id: VirtualServer.ID)
    {
        tables.withLock {
            $0.servers[id]?[server]?.activeConnections = active
            $0.servers[id]?[server]?.inactiveConnections = inactive
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
                let errno: Int32?
                if let injected = t.failures.firstIndex(where: { $0.matching(operation) }) {
                    errno = t.failures.remove(at: injected).errno
                } else {
                    errno = Self.perform(operation, on: &t)
                }
                if let errno {
                    let error = IPVSError(
                        Self.code(errno),
                        "\(operation): errno \(errno)",
                        operation: operation,
                        errno: errno
                    )
                    failures.append(.init(index: index, operation: operation, error: error))
                }
            }
        }
        progress?(operations.count, operations.count)
        return BulkApplyResult(operationCount: operations.count, failures: failures, sendCalls: 1)
    }

    /// Applies one operation; returns the errno the kernel would answer, or nil on success.
    private static func perform(_ operation: IPVSOperation, on t: inout Tables) -> Int32? {
        switch operation {
        case .addService(let service):
            guard t.services[service.id] == nil else { return EEXIST }
            t.services[service.id] = service
            t.servers[service.id] = [:]
        case .updateService(let service):
            guard t.services[service.id] != nil else { return ESRCH }
            t.services[service.id] = service
        case .deleteService(let id):
            guard t.services.removeValue(forKey: id) != nil else { return ESRCH }
            t.servers[id] = nil
        case .addServer(let server, let id):
            guard t.services[id] != nil else { return ESRCH }
            guard t.servers[id]?[server.id] == nil else { return EEXIST }
            t.servers[id]?[server.id] = ObservedRealServer(realServer: server)
        case .updateServer(let server, let id):
            guard t.services[id] != nil else { return ESRCH }
            guard t.servers[id]?[server.id] != nil else { return ENOENT }
            t.servers[id]?[server.id]?.realServer = server
        case .deleteServer(let server, let id):
            guard t.services[id] != nil else { return ESRCH }
            guard t.servers[id]?.removeValue(forKey: server) != nil else { return ENOENT }
        case .zero(let id):
            if let id, t.services[id] == nil { return ESRCH }
        case .flush:
            t.services.removeAll()
            t.servers.removeAll()
        case .setTimeouts, .startDaemon, .stopDaemon:
            break
        }
        return nil
    }

    private static func code(_ errno: Int32) -> IPVSError.Code {
        switch errno {
        case EEXIST: .alreadyExists
        case ESRCH, ENOENT: .notFound
        case EINVAL: .invalidArgument
        default: .kernel
        }
    }

    public func services() throws(IPVSError) -> [ObservedVirtualServer] {
        tables.withLock { t in
            t.readCount += 1
            return t.services.values.sorted { $0.id < $1.id }.map { ObservedVirtualServer(virtualServer: $0) }
        }
    }

    public func service(_ id: VirtualServer.ID) throws(IPVSError) -> ObservedVirtualServer {
        let found = tables.withLock { t in
            t.readCount += 1
            return t.services[id]
        }
        guard let found else { throw IPVSError(.notFound, "service \(id) does not exist", errno: ESRCH) }
        return ObservedVirtualServer(virtualServer: found)
    }

    public func servers(of id: VirtualServer.ID) throws(IPVSError) -> [ObservedRealServer] {
        let found = tables.withLock { t in
            t.readCount += 1
            return t.servers[id]
        }
        guard let found else { throw IPVSError(.notFound, "service \(id) does not exist", errno: ESRCH) }
        return found.values.sorted { $0.realServer.id < $1.realServer.id }
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
