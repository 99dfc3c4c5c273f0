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
    private var hairpin: [MasqueradeRules.Destination: UInt32] = [:]
    private var masqueraded: [MasqueradeRules.Destination: UInt32] = [:]
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
        mode == .none ? nil : MasqueradeRules(hairpin: Set(hairpin.keys), masqueraded: Set(masqueraded.keys))
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
        in counts: inout [MasqueradeRules.Destination: UInt32],
        changes: inout SetChanges<MasqueradeRules.Destination>
    ) {
        if step > 0 {
            counts[element, default: 0] += 1
            if counts[element] == 1 { changes.add(element) }
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
