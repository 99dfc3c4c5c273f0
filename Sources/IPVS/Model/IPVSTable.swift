#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// An in-memory IPVS table that applies operations with the kernel's rules and answers with the kernel's
/// errnos (and the client's wording for them): adding what exists is EEXIST, a missing service ESRCH, a
/// missing real server ENOENT. The one copy of those rules: `ipvsctl` plans a restore file against it, and
/// the tests' fake kernels keep their state in it.
public struct IPVSTable: Hashable, Sendable {
    public struct Entry: Hashable, Sendable {
        public var service: VirtualServer
        /// In the order they were added.
        public var servers: [RealServer]

        public init(service: VirtualServer, servers: [RealServer] = []) {
            self.service = service
            self.servers = servers
        }
    }

    /// Services in insertion order; a deleted one leaves a hole until the next compaction, so a delete costs
    /// O(1) amortized rather than a shift of everything after it.
    private var slots: [Entry?] = []
    /// Where each service sits in `slots`: lookups stay O(1) for tables of tens of thousands.
    private var positions: [VirtualServer.ID: Int] = [:]
    public var timeouts = Timeouts(tcp: 900, tcpFin: 120, udp: 300)
    public var daemons: [SyncDaemon] = []

    public init() {}

    /// A table holding `entries` as given (no rules checked).
    public init(entries: [Entry]) {
        slots = entries
        for (i, entry) in entries.enumerated() { positions[entry.service.id] = i }
    }

    /// Services in insertion order.
    public var entries: [Entry] { slots.compactMap { $0 } }

    public var count: Int { positions.count }

    /// The service `id` and its real servers, if present.
    public func entry(_ id: VirtualServer.ID) -> Entry? { positions[id].flatMap { slots[$0] } }

    /// Applies one operation as the kernel would.
    /// - Throws: the ``IPVSError`` the client would report for the errno the kernel would answer.
    public mutating func apply(_ operation: IPVSOperation) throws(IPVSError) {
        switch operation {
        case .addService(let vs):
            guard positions[vs.id] == nil else { throw failure(EEXIST, operation) }
            positions[vs.id] = slots.count
            slots.append(Entry(service: vs))
        case .updateService(let vs):
            guard let i = positions[vs.id] else { throw failure(ESRCH, operation) }
            slots[i]!.service = vs
        case .deleteService(let id):
            guard let i = positions.removeValue(forKey: id) else { throw failure(ESRCH, operation) }
            slots[i] = nil
            if slots.count > 64, positions.count < slots.count / 2 { compact() }
        case .addServer(let rs, let id):
            guard let i = positions[id] else { throw failure(ESRCH, operation) }
            guard !slots[i]!.servers.contains(where: { $0.id == rs.id }) else { throw failure(EEXIST, operation) }
            slots[i]!.servers.append(rs)
        case .updateServer(let rs, let id):
            guard let i = positions[id] else { throw failure(ESRCH, operation) }
            guard let j = slots[i]!.servers.firstIndex(where: { $0.id == rs.id }) else {
                throw failure(ENOENT, operation)
            }
            slots[i]!.servers[j] = rs
        case .deleteServer(let rs, let id):
            guard let i = positions[id] else { throw failure(ESRCH, operation) }
            guard let j = slots[i]!.servers.firstIndex(where: { $0.id == rs }) else {
                throw failure(ENOENT, operation)
            }
            slots[i]!.servers.remove(at: j)
        case .zero(let id):
            if let id, positions[id] == nil { throw failure(ESRCH, operation) }
        case .flush:
            slots.removeAll()
            positions.removeAll()
        case .setTimeouts(let t):
            if t.tcp != 0 { timeouts.tcp = t.tcp }
            if t.tcpFin != 0 { timeouts.tcpFin = t.tcpFin }
            if t.udp != 0 { timeouts.udp = t.udp }
        case .startDaemon(let daemon):
            guard !daemons.contains(where: { $0.state == daemon.state }) else { throw failure(EEXIST, operation) }
            daemons.append(daemon)
        case .stopDaemon(let state):
            guard let i = daemons.firstIndex(where: { $0.state == state }) else { throw failure(ESRCH, operation) }
            daemons.remove(at: i)
        }
    }

    private mutating func compact() {
        let kept: [Entry] = slots.compactMap { $0 }
        slots = kept
        for (i, entry) in kept.enumerated() { positions[entry.service.id] = i }
    }

    private func failure(_ errno: Int32, _ operation: IPVSOperation) -> IPVSError {
        IPVSError.kernel(errno: errno, operation: operation)
    }

    // Equal tables hold the same services in the same order, whatever holes deletions left.
    public static func == (lhs: IPVSTable, rhs: IPVSTable) -> Bool {
        lhs.entries == rhs.entries && lhs.timeouts == rhs.timeouts && lhs.daemons == rhs.daemons
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(entries)
        hasher.combine(timeouts)
        hasher.combine(daemons)
    }
}
