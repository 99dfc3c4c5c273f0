import IPVS

/// The real servers of one virtual server by ID, stored densely: one array sorted by ID.
///
/// A Swift dictionary of ten real servers is a hash table of sixteen buckets holding a copy of every key
/// next to its value; at 10k services that, twice (desired and programmed), was most of the agent's memory.
/// Here ten servers are ten array elements. Lookups are a binary search of at most four steps up to
/// `indexThreshold` servers; a larger service also keeps a hash index from ID to position, so lookups stay
/// O(1) however many endpoints a service has. None of them allocates.
///
/// Reads like the dictionary it replaced (`keys`, `values`, a subscript by ID, iteration as key-value
/// pairs), but iterates in ID order. Equal tables hold equal values in the same order, so equality and
/// hashing are the array's; the index is derived and ignored.
public struct RealServerTable<Value: Identifiable & Hashable & Sendable>: Sendable, Hashable
where Value.ID == RealServer.ID {
    /// Sorted by ID, IDs unique.
    public private(set) var values: [Value] = []
    /// Position of every value by ID; only above `indexThreshold` values.
    private var index: [RealServer.ID: Int]?

    /// Up to this many servers a binary search is as quick as hashing, and the index would cost more
    /// memory than the servers.
    static var indexThreshold: Int { 16 }

    public init() {}

    /// Takes the values of a dictionary keyed by their IDs.
    public init(_ dictionary: [RealServer.ID: Value]) {
        for (key, value) in dictionary {
            precondition(key == value.id, "real server \(value.id) filed under \(key)")
        }
        self.init(Array(dictionary.values))
    }

    /// Takes values in any order; of values with the same ID the last one stays, as in a dictionary. Values
    /// already sorted by ID cost one pass.
    public init(_ unsorted: [Value]) {
        self.init(sorting: unsorted)
    }

    private init(sorting unsorted: [Value]) {
        self.init()
        var sorted = unsorted
        sorted.sort { $0.id < $1.id }
        if zip(sorted, sorted.dropFirst()).contains(where: { $0.id == $1.id }) {
            for value in unsorted { self[value.id] = value }
            return
        }
        values = sorted
        rebuildIndex()
    }

    /// The IDs, sorted.
    public var keys: LazyMapCollection<[Value], RealServer.ID> { values.lazy.map(\.id) }

    public subscript(id: RealServer.ID) -> Value? {
        get { position(of: id).map { values[$0] } }
        set {
            if let position = position(of: id) {
                if let newValue {
                    precondition(newValue.id == id, "real server \(newValue.id) filed under \(id)")
                    values[position] = newValue
                } else {
                    values.remove(at: position)
                    index?[id] = nil
                    reindex(from: position)
                }
            } else if let newValue {
                precondition(newValue.id == id, "real server \(newValue.id) filed under \(id)")
                insert(newValue, at: insertionPoint(of: id))
            }
        }
    }

    public static func == (lhs: Self, rhs: Self) -> Bool { lhs.values == rhs.values }

    public func hash(into hasher: inout Hasher) { hasher.combine(values) }

    private func position(of id: RealServer.ID) -> Int? {
        if let index { return index[id] }
        let position = insertionPoint(of: id)
        return position < values.count && values[position].id == id ? position : nil
    }

    /// The first position whose ID is not below `id`.
    private func insertionPoint(of id: RealServer.ID) -> Int {
        var low = 0
        var high = values.count
        while low < high {
            let middle = (low + high) / 2
            if values[middle].id < id { low = middle + 1 } else { high = middle }
        }
        return low
    }

    private mutating func insert(_ value: Value, at position: Int) {
        // Grown by a quarter, not doubled: a table filled one server at a time (the programmed model, as the
        // kernel accepts operations) then wastes at most a quarter of its elements, still amortized O(1).
        if values.count == values.capacity {
            values.reserveCapacity(values.count + Swift.max(2, values.count / 4))
        }
        values.insert(value, at: position)
        if index == nil {
            if values.count > Self.indexThreshold { rebuildIndex() }
        } else {
            reindex(from: position)
        }
    }

    /// Positions from `position` on moved by one (appending in ID order, as plans do, moves none).
    private mutating func reindex(from position: Int) {
        guard index != nil else { return }
        if values.count <= Self.indexThreshold / 2 {
            index = nil
            return
        }
        for moved in position..<values.count { index![values[moved].id] = moved }
    }

    private mutating func rebuildIndex() {
        guard values.count > Self.indexThreshold else {
            index = nil
            return
        }
        var index = [RealServer.ID: Int](minimumCapacity: values.count)
        for (position, value) in values.enumerated() { index[value.id] = position }
        self.index = index
    }
}

extension RealServerTable: RandomAccessCollection {
    public typealias Element = (key: RealServer.ID, value: Value)

    public var startIndex: Int { 0 }
    public var endIndex: Int { values.count }
    public subscript(position: Int) -> Element { (values[position].id, values[position]) }
}

extension RealServerTable: ExpressibleByDictionaryLiteral {
    public init(dictionaryLiteral elements: (RealServer.ID, Value)...) {
        self.init(Dictionary(elements, uniquingKeysWith: { $1 }))
    }
}

extension DesiredRealServer: Identifiable {}

extension RealServerTable where Value == DesiredRealServer {
    /// ``init(_:)`` compiled for desired real servers: called from another module (every Service a
    /// manifest or an API list builds), the generic one ran unspecialised, its sort and duplicate check going
    /// through witness tables and runtime metadata lookups (a quarter of building 10k Services, perf).
    public init(_ unsorted: [DesiredRealServer]) {
        self.init(sorting: unsorted)
    }
}
