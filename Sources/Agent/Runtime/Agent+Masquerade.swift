import IPVS
import ServiceTables

extension Agent {
    /// Writes the masquerade rules the desired state and `configuration.masquerade` call for: the elements
    /// that changed since the last write (the core keeps the rules service by service, so this costs the
    /// change, not the cluster), or the whole table when `force` is set (a full resync repairs a table
    /// another tool changed or deleted), after a failed write, or when an update finds the table drifted.
    /// - Returns: the problem, for the sync's report, or nil.
    func syncMasquerade(force: Bool) -> String? {
        guard let packetFilter else { return nil }
        let changes = core.takeMasqueradeChanges()
        let changed =
            !changes.removed.hairpin.isEmpty || !changes.removed.masqueraded.isEmpty
            || !changes.added.hairpin.isEmpty || !changes.added.masqueraded.isEmpty
        guard force || !masqueradeInSync || changed else { return nil }
        let whole = force || !masqueradeInSync
        do throws(IPVSError) {
            // A whole write starts from the desired state itself, not from the incremental index.
            if let rules = whole ? core.rebuildMasqueradeRules() : core.masqueradeRules {
                if !whole {
                    do throws(IPVSError) {
                        try packetFilter.update(removing: changes.removed, adding: changes.added)
                    } catch {
                        // The table no longer holds what was written (another tool changed it): write it whole.
                        logger.warning(
                            "masquerade sets out of step; rewriting the nftables table",
                            metadata: ["error": "\(error)"]
                        )
                        try packetFilter.apply(core.rebuildMasqueradeRules() ?? rules)
                    }
                } else {
                    try packetFilter.apply(rules)
                }
            } else {
                try packetFilter.remove()
            }
            masqueradeInSync = true
            return nil
        } catch {
            masqueradeInSync = false
            return "masquerade (nftables table inet \(NftablesScript.table)): \(error)"
        }
    }
}
