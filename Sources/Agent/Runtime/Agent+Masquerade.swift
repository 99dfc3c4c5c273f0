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
        let changed = changes.removed != MasqueradeRules() || changes.added != MasqueradeRules()
        guard force || !masqueradeInSync || changed else { return nil }
        do throws(IPVSError) {
            if configuration.masquerade == .none {
                try packetFilter.remove()
            } else if force || !masqueradeInSync {
                try writeWholeMasquerade(packetFilter)
            } else {
                do throws(IPVSError) {
                    try packetFilter.update(removing: changes.removed, adding: changes.added)
                } catch {
                    // The table no longer holds what was written (another tool changed it): write it whole.
                    logger.warning(
                        "masquerade sets out of step; rewriting the nftables table",
                        metadata: ["error": "\(error)"]
                    )
                    try writeWholeMasquerade(packetFilter)
                }
            }
            masqueradeInSync = true
            return nil
        } catch {
            masqueradeInSync = false
            return "masquerade (nftables table inet \(NftablesScript.table)): \(error)"
        }
    }

    /// The whole table, from the desired state itself rather than the incremental index (O(cluster), so
    /// only for a full resync, a failed write or a drifted table), so a bookkeeping mistake cannot outlive it.
    private func writeWholeMasquerade(_ packetFilter: any PacketFilter) throws(IPVSError) {
        try packetFilter.apply(core.rebuildMasqueradeRules() ?? MasqueradeRules())
    }
}
