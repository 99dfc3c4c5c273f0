import IPVS
import ServiceTables

/// A sync's masquerade write, decided on the actor: a whole write runs on its own thread beside the sync's
/// next steps (binding VIPs, adding the new services) and is waited for before any real server is added.
struct PendingMasquerade {
    fileprivate enum State {
        case idle
        case finished(String?)
        /// The write, when it began and how many elements it carries (for the log).
        case whole(BackgroundJob<Result<Void, IPVSError>>, started: ContinuousClock.Instant, elements: Int)
    }

    fileprivate let state: State
}

extension Agent {
    /// Starts writing the masquerade rules the desired state and `configuration.masquerade` call for: the
    /// elements that changed since the last write (the core keeps the rules service by service, so this
    /// costs the change, not the cluster), or the whole table after a failed write, when an update finds the
    /// table drifted, or when a full resync (`force`) finds it no longer holds the last write
    /// (``checkedAtResync``). A whole write (about 100,000 elements at 10k Services x 10, about 5 s in the
    /// TCG VM) runs on its own thread; ``finishMasquerade(_:)`` waits for it.
    func beginMasquerade(force: Bool) -> PendingMasquerade {
        guard let packetFilter else { return PendingMasquerade(state: .idle) }
        let changes = core.takeMasqueradeChanges()
        let changed = changes.removed != MasqueradeRules() || changes.added != MasqueradeRules()
        guard force || !masqueradeInSync || changed else { return PendingMasquerade(state: .idle) }
        do throws(IPVSError) {
            if configuration.masquerade == .none {
                try packetFilter.remove()
                masqueradeInSync = true
                return PendingMasquerade(state: .finished(nil))
            }
            var whole = !masqueradeInSync
            if force && !whole { whole = try !checkedAtResync(packetFilter) }
            if !whole && changed {
                do throws(IPVSError) {
                    try packetFilter.update(removing: changes.removed, adding: changes.added)
                } catch {
                    // The table no longer holds what was written (another tool changed it): write it whole.
                    logger.warning(
                        "masquerade sets out of step; rewriting the nftables table",
                        metadata: ["error": "\(error)"]
                    )
                    whole = true
                }
            }
            if whole {
                // Rebuilt here, on the actor, from the desired state itself (not the index, so a bookkeeping
                // mistake cannot outlive the write); only the kernel work leaves it.
                let rules = core.rebuildMasqueradeRules() ?? MasqueradeRules()
                masqueradeInSync = false
                let job = BackgroundJob(name: "ipvsd-nftables") {
                    Result { () throws(IPVSError) in try packetFilter.apply(rules) }
                }
                let elements = rules.hairpin.count + rules.masqueraded.count
                return PendingMasquerade(state: .whole(job, started: .now, elements: elements))
            }
            masqueradeInSync = true
            return PendingMasquerade(state: .finished(nil))
        } catch {
            masqueradeInSync = false
            return PendingMasquerade(state: .finished(Self.masqueradeProblem(error)))
        }
    }

    /// Waits for a whole write begun by ``beginMasquerade(force:)``.
    /// - Returns: the problem, for the sync's report, or nil.
    func finishMasquerade(_ pending: PendingMasquerade) -> String? {
        switch pending.state {
        case .idle:
            return nil
        case .finished(let problem):
            return problem
        case .whole(let job, let started, let elements):
            let waited = ContinuousClock.now
            switch job.wait() {
            case .success:
                masqueradeInSync = true
                let end = ContinuousClock.now
                logger.info(
                    "nftables table written whole",
                    metadata: [
                        "elements": "\(elements)", "duration_ms": "\((end - started).milliseconds)",
                        "sync_waited_ms": "\((end - waited).milliseconds)",
                    ]
                )
                return nil
            case .failure(let error):
                masqueradeInSync = false
                return Self.masqueradeProblem(error)
            }
        }
    }

    private static func masqueradeProblem(_ error: IPVSError) -> String {
        "masquerade (nftables table inet \(NftablesScript.table)): \(error)"
    }

    /// A full resync's check of the table, instead of a whole write every `resyncPeriod` (about 100,000
    /// elements at 10k Services x 10: 5 s in a TCG VM, 22 s when they went through libnftables): the
    /// incremental bookkeeping still agrees with the desired state, and the table still has the last write's
    /// sets and chains (a deleted table or a ruleset flush shows; ``PacketFilter/holdsLastWrite()``). A whole write rebuilds the rules from the desired
    /// state itself rather than from the index, so a bookkeeping mistake cannot outlive it.
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
}
