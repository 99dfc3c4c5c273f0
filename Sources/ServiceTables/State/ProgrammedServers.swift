import IPVS

/// The real servers the agent believes the kernel holds for one owned service.
///
/// Once a sync succeeded they are usually exactly the desired endpoints at their desired settings; then
/// this holds the desired table itself (one more reference to the same storage) rather than a copy, and
/// the programmed model costs nothing per real server. Any change makes it a table of its own again;
/// `share(_:)` goes back to sharing when the two are equal once more (after `record` and `adopt`).
struct ProgrammedServers: Sendable, Hashable {
    /// Used while `shared` is nil.
    private var own = RealServerTable<RealServer>()
    /// The desired endpoints these servers are, each its `realServer`.
    private var shared: RealServerTable<DesiredRealServer>?

    init() {}

    init(_ servers: [RealServer]) { own = RealServerTable(servers) }

    var count: Int { shared?.count ?? own.count }

    var keys: Keys { Keys(servers: self) }

    subscript(id: RealServer.ID) -> RealServer? {
        get {
            if let shared { return shared[id]?.realServer }
            return own[id]
        }
        set {
            if let shared {
                // Unchanged (a delete of an absent server, an update to the same value): keep sharing.
                guard shared[id]?.realServer != newValue else { return }
                own = RealServerTable(shared.values.map(\.realServer))
                self.shared = nil
            }
            own[id] = newValue
        }
    }

    /// Shares the desired table's storage when these servers are exactly its endpoints' real servers.
    mutating func share(_ desired: RealServerTable<DesiredRealServer>) {
        guard shared == nil, own.count == desired.count else { return }
        for (have, want) in zip(own.values, desired.values) where have != want.realServer { return }
        shared = desired
        own = RealServerTable()
    }

    static func == (lhs: Self, rhs: Self) -> Bool {
        guard lhs.count == rhs.count else { return false }
        for index in 0..<lhs.count where lhs.server(at: index) != rhs.server(at: index) { return false }
        return true
    }

    func hash(into hasher: inout Hasher) {
        hasher.combine(count)
        for index in 0..<count { hasher.combine(server(at: index)) }
    }

    /// The servers in ID order, by position.
    private func server(at position: Int) -> RealServer {
        if let shared { return shared.values[position].realServer }
        return own.values[position]
    }

    /// The IDs in order, whichever storage holds them.
    struct Keys: RandomAccessCollection {
        let servers: ProgrammedServers
        var startIndex: Int { 0 }
        var endIndex: Int { servers.count }
        subscript(position: Int) -> RealServer.ID {
            if let shared = servers.shared { return shared.values[position].id }
            return servers.own.values[position].id
        }
    }
}
