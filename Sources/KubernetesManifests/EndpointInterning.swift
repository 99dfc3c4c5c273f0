/// One copy of each node name and hint set among the endpoints a source holds. Every endpoint names its
/// node, and with topology-aware routing carries a zone hint, but a cluster has few nodes and zones: held
/// as decoded, a node name longer than 15 bytes is a heap block per endpoint (about 48 bytes), and each
/// non-empty hint set another. Interning changes no value, only how many copies of it exist, so when
/// either table outgrows any real cluster it is dropped and started again instead of growing with node
/// churn forever.
struct EndpointInterning: Sendable {
    /// Far above any cluster's node count (Kubernetes supports 5,000 nodes).
    static let limit = 50_000

    private var names: Set<String> = []
    private var hints: Set<Set<String>> = []

    /// `slice` with its endpoints' node names and hints replaced by the held copies of equal values.
    mutating func intern(_ slice: EndpointSlice) -> EndpointSlice {
        // Checked on the caller's value first: a loop that may write makes the compiler take the array for
        // writing, which copies it (the caller holds it too) even when nothing is then written.
        guard slice.endpoints.contains(where: Self.hasSharedValues) else { return slice }
        var slice = slice
        for index in slice.endpoints.indices {
            // Short strings are stored inline; only longer ones have storage to share.
            if slice.endpoints[index].nodeName.utf8.count > 15 {
                slice.endpoints[index].nodeName = Self.interned(slice.endpoints[index].nodeName, in: &names)
            }
            if !slice.endpoints[index].zoneHints.isEmpty {
                slice.endpoints[index].zoneHints = Self.interned(slice.endpoints[index].zoneHints, in: &hints)
            }
            if !slice.endpoints[index].nodeHints.isEmpty {
                slice.endpoints[index].nodeHints = Self.interned(slice.endpoints[index].nodeHints, in: &hints)
            }
        }
        return slice
    }

    private static func hasSharedValues(_ endpoint: Endpoint) -> Bool {
        endpoint.nodeName.utf8.count > 15 || !endpoint.zoneHints.isEmpty || !endpoint.nodeHints.isEmpty
    }

    private static func interned<Value: Hashable>(_ value: Value, in table: inout Set<Value>) -> Value {
        if table.count >= limit { table.removeAll() }
        return table.insert(value).memberAfterInsert
    }
}
