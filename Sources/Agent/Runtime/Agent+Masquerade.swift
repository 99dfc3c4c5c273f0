import IPVS
import ServiceTables

extension Agent {
    /// Writes the masquerade rules the desired state and `configuration.masquerade` call for: the elements
    /// that changed since the last write (the core keeps the rules service by service, so this costs the
    /// change, not the cluster), or the whole table after a failed write, when an update finds the table
    /// drifted, or when a full resync (`force`) finds it no longer holds the last write (``checkedAtResync``).
    /// - Returns: the problem, for the sync's report, or nil.
    func syncMasquerade(force: Bool) -> String? {
        guard let packetFilter else { return nil }
        let changes = core.takeMasqueradeChanges()
        let changed = changes.removed != MasqueradeRules() || changes.added != MasqueradeRules()
        guard force || !masqueradeInSync || changed else { return nil }
        do throws(IPVSError) {
            var whole = !masqueradeInSync
            if force && !whole && configuration.masquerade != .none {
                whole = try !checkedAtResync(packetFilter)
            }
            if configuration.masquerade == .none {
                try packetFilter.remove()
            } else if whole {
                try writeWholeMasquerade(packetFilter)
            } else if changed {
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

    /// A full resync's check of the table, instead of a whole write every `resyncPeriod` (about 100,000
    /// elements at 10k Services x 10: 22 s in a TCG VM, all of it on the actor): the incremental bookkeeping
    /// still agrees with the desired state, and the table still has the last write's sets and chains (a
    /// deleted table or a ruleset flush shows; ``PacketFilter/holdsLastWrite()``).
    private func checkedAtResync(_ packetFilter: any PacketFilter) throws(IPVSError) -> Bool {
        guard core.masqueradeIndexMatchesDesired() else {
            logger.warning("masquerade bookkeeping out of step with the desired state; rewriting the nftables table")
            return false
        }
        guard try packetFilter.holdsLastWrite() else {
            logger.warning(
                "nftables table inet \(NftablesScript.table) lost its sets or chains (a ruleset flush?); rewriting it"
            )
            return false
        }
        return true
    }

    /// The whole table, from the desired state itself rather than the incremental index (O(cluster), so only
    /// for the first write, a failed write or a drifted table), so a bookkeeping mistake cannot outlive it.
    private func writeWholeMasquerade(_ packetFilter: any PacketFilter) throws(IPVSError) {
        try packetFilter.apply(core.rebuildMasqueradeRules() ?? MasqueradeRules())
    }
}
