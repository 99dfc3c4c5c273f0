import IPVS

/// A masquerade index rebuilt from one desired state alone (``LoadBalancerState/masqueradeRebuilder()``), for
/// ``LoadBalancerState/install(_:)``.
public struct RebuiltMasquerade: Sendable {
    let index: MasqueradeIndex
    let generation: Int

    /// The whole rules, for a whole write; nil for `none`.
    public var rules: MasqueradeRules? { index.rules }
}

/// The masquerade rules of the desired state, kept service by service as it changes, with the elements each
/// change added and removed: a change costs its own services, where recomputing the rules from the whole
/// desired state and diffing them cost O(cluster) on every sync (284 ms a sync in a native debug build at
/// 10k Services x 10; the release build was not timed).
public struct MasqueradeIndex: Sendable {
    public let mode: MasqueradeMode
    /// Each element with how many virtual servers need it: a Service's cluster IP, node port and external
    /// IPs share their endpoints, so one endpoint's hairpin element has several users.
    private var hairpin = DestinationCounts()
    private var masqueraded = DestinationCounts()
    /// Elements that appeared and disappeared since ``takeChanges()``.
    private var hairpinChanges = SetChanges<MasqueradeRules.Destination>()
    private var masqueradedChanges = SetChanges<MasqueradeRules.Destination>()

    public init(mode: MasqueradeMode) { self.mode = mode }

    /// The index of `state` alone, with no changes pending: what a whole write starts from, so a whole write
    /// never inherits a mistake of the incremental bookkeeping.
    init(mode: MasqueradeMode, state: DesiredState) {
        self.mode = mode
        for service in state.virtualServers.values { insert(service) }
        hairpinChanges = SetChanges()
        masqueradedChanges = SetChanges()
    }

    /// The whole rules, for a whole write; nil for `none` (no table at all).
    public var rules: MasqueradeRules? {
        mode == .none ? nil : MasqueradeRules(hairpin: hairpin.elements, masqueraded: masqueraded.elements)
    }

    /// Whether both hold the same elements with the same counts (pending changes aside).
    func sameElements(as other: MasqueradeIndex) -> Bool {
        mode == other.mode && hairpin == other.hairpin && masqueraded == other.masqueraded
    }

    /// What changed since the last call: the elements to delete and to add.
    public mutating func takeChanges() -> (removed: MasqueradeRules, added: MasqueradeRules) {
        defer {
            hairpinChanges = SetChanges()
            masqueradedChanges = SetChanges()
        }
        return (
            MasqueradeRules(hairpin: hairpinChanges.removed, masqueraded: masqueradedChanges.removed),
            MasqueradeRules(hairpin: hairpinChanges.added, masqueraded: masqueradedChanges.added)
        )
    }

    mutating func insert(_ service: DesiredVirtualServer) {
        let part = mode.contribution(of: service.id, service)
        for element in part.hairpin {
            Self.count(element, by: 1, in: &hairpin, changes: &hairpinChanges)
        }
        if let element = part.masqueraded {
            Self.count(element, by: 1, in: &masqueraded, changes: &masqueradedChanges)
        }
    }

    mutating func remove(_ service: DesiredVirtualServer) {
        let part = mode.contribution(of: service.id, service)
        for element in part.hairpin {
            Self.count(element, by: -1, in: &hairpin, changes: &hairpinChanges)
        }
        if let element = part.masqueraded {
            Self.count(element, by: -1, in: &masqueraded, changes: &masqueradedChanges)
        }
    }

    /// One more or one fewer user of `element`; records its appearance (0 to 1) or disappearance (1 to 0).
    private static func count(
        _ element: MasqueradeRules.Destination,
        by step: Int,
        in counts: inout DestinationCounts,
        changes: inout SetChanges<MasqueradeRules.Destination>
    ) {
        if step > 0 {
            let users = (counts[element] ?? 0) + 1
            counts[element] = users
            if users == 1 { changes.add(element) }
        } else {
            // Insertions and removals come in pairs from the desired state's old and new entries; a release
            // build keeps running on a broken pair rather than crash (the next whole write rebuilds the index
            // from the desired state).
            guard let users = counts[element] else {
                assertionFailure("masquerade element \(element) removed by a service that never added it")
                return
            }
            counts[element] = users > 1 ? users - 1 : nil
            if users == 1 { changes.remove(element) }
        }
    }
}

/// How many virtual servers use each element, packed: an IPv4 destination (nearly every one) is a single
/// 64-bit key. With a `Destination` key (20 bytes, 24 with padding) and its count, 100,000 hairpin elements
/// took 7.4 MB at 10k Services x 10 (heaptrack of ipvsd in the VM: the dictionary's 262,144 buckets at
/// 28 bytes); packed they take 12 bytes a bucket.
struct DestinationCounts: Sendable, Equatable {
    private var ipv4: [UInt64: UInt32] = [:]
    private var others: [MasqueradeRules.Destination: UInt32] = [:]

    subscript(element: MasqueradeRules.Destination) -> UInt32? {
        get {
            if let key = Self.key(element) { ipv4[key] } else { others[element] }
        }
        set {
            if let key = Self.key(element) { ipv4[key] = newValue } else { others[element] = newValue }
        }
    }

    /// Every element with at least one user.
    var elements: Set<MasqueradeRules.Destination> {
        var elements = Set<MasqueradeRules.Destination>(minimumCapacity: ipv4.count + others.count)
        for key in ipv4.keys { elements.insert(Self.element(key)) }
        elements.formUnion(others.keys)
        return elements
    }

    /// Address in the high 32 bits, then protocol and port.
    private static func key(_ element: MasqueradeRules.Destination) -> UInt64? {
        element.address.ipv4Value.map {
            UInt64($0) << 32 | UInt64(element.proto.rawValue) << 16 | UInt64(element.port)
        }
    }

    private static func element(_ key: UInt64) -> MasqueradeRules.Destination {
        MasqueradeRules.Destination(
            address: IPAddress(ipv4: UInt32(truncatingIfNeeded: key >> 32)),
            proto: IPProtocol(rawValue: UInt16(truncatingIfNeeded: key >> 16)),
            port: UInt16(truncatingIfNeeded: key)
        )
    }
}
