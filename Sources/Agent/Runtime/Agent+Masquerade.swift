import IPVS
import ServiceTables

extension Agent {
    /// Writes the masquerade rules the desired state and `configuration.masquerade` call for, when they
    /// changed or `force` is set (a full resync repairs a table another tool changed or deleted).
    /// - Returns: the problem, for the sync's report, or nil.
    func syncMasquerade(force: Bool) -> String? {
        guard let packetFilter else { return nil }
        let rules = configuration.masquerade.rules(for: core.desired)
        guard force || !masqueradeInSync || rules != appliedMasquerade else { return nil }
        do throws(IPVSError) {
            if let rules, let applied = appliedMasquerade, masqueradeInSync, !force {
                do throws(IPVSError) {
                    try packetFilter.update(from: applied, to: rules)
                } catch {
                    // The table no longer holds what was written (another tool changed it): write it whole.
                    logger.warning(
                        "masquerade sets out of step; rewriting the nftables table",
                        metadata: ["error": "\(error)"]
                    )
                    try packetFilter.apply(rules)
                }
            } else if let rules {
                try packetFilter.apply(rules)
            } else {
                try packetFilter.remove()
            }
            appliedMasquerade = rules
            masqueradeInSync = true
            return nil
        } catch {
            masqueradeInSync = false
            return "masquerade (nftables table inet \(NftablesScript.table)): \(error)"
        }
    }
}
