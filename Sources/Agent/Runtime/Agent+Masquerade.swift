import IPVS
import ServiceTables

/// A sync's masquerade write, decided on the actor: a whole write runs on its own thread beside the sync's
/// next steps (binding VIPs, adding the new services) and is waited for before any real server is added.
struct PendingMasquerade {
    fileprivate enum State {
        case idle
        case finished(String?)
        /// The rebuild and write, and when they began (for the log).
        case whole(BackgroundJob<(RebuiltMasquerade, Result<Void, IPVSError>)>, started: ContinuousClock.Instant)
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
                // Rebuilt from the desired state itself (not the index, so a bookkeeping mistake cannot outlive
                // the write), on the write's thread: at 10k Services x 10 the rebuild alone held the actor
                // for about a second of the first sync in the VM.
                let rebuild = core.masqueradeRebuilder()
                masqueradeInSync = false
                let job = BackgroundJob(name: "ipvsd-nftables") { () -> (RebuiltMasquerade, Result<Void, IPVSError>) in
                    let rebuilt = rebuild()
                    let rules = rebuilt.rules ?? MasqueradeRules()
                    return (rebuilt, Result { () throws(IPVSError) in try packetFilter.apply(rules) })
                }
                return PendingMasquerade(state: .whole(job, started: .now))
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
        case .whole(let job, let started):
            let waited = ContinuousClock.now
            let (rebuilt, result) = job.wait()
            // Nothing changes the desired state while a sync runs (the actor runs the sync whole); were it
            // to, the rules written are stale and the next sync writes them whole again.
            let current = core.install(rebuilt)
            switch result {
            case .success:
                masqueradeInSync = current
                let end = ContinuousClock.now
                let rules = rebuilt.rules ?? MasqueradeRules()
                logger.info(
                    "nftables table written whole",
                    metadata: [
                        "elements": "\(rules.hairpin.count + rules.masqueraded.count)",
                        "duration_ms": "\((end - started).milliseconds)",
                        "sync_waited_ms": "\((end - waited).milliseconds)",
                    ]
                )
                return current ? nil : "masquerade: the desired state changed during a whole write; writing it again"
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
