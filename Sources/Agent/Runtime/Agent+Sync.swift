import IPVS
import Logging
import ServiceTables

/// A finished sync, in the agent's clock.
struct SyncReportValue: Sendable {
    var kind: SyncKind
    var at: ContinuousClock.Instant
    var duration: Duration
    var operations: Int
    var failures: Int
}

/// The step boundaries of a sync, in order. The state file and the kernel must let a restarted agent converge
/// to exactly its own services after a crash at any of them (docs/ipvsd.md, "Failure behaviour").
public enum SyncStep: String, Sendable, CaseIterable {
    /// New virtual IPs are bound on the interface; nothing in IPVS changed yet.
    case addressesBound = "addresses-bound"
    /// The services about to be added are in the state file's intent record (fsynced).
    case intentRecorded = "intent-recorded"
    /// The kernel accepted the new services; ownership is not yet in the state file.
    case servicesAdded = "services-added"
    /// The new services are in the state file as owned.
    case ownershipRecorded = "ownership-recorded"
    /// Every other change (real servers, updates, deletions) is in the kernel.
    case changesApplied = "changes-applied"
    /// Addresses no longer used are unbound.
    case addressesUnbound = "addresses-unbound"
    /// The final state (deletions included) is in the state file.
    case stateSaved = "state-saved"
}

enum SyncKind: String, Sendable {
    /// Reads the kernel's table and repairs drift.
    case full
    /// Only what changed since the last sync, from the agent's own model; no kernel read.
    case incremental
}

extension Agent {
    /// Applies the pending changes without reading the kernel's table.
    @discardableResult
    func syncChanges(now: ContinuousClock.Instant) -> Bool {
        let start = ContinuousClock.now
        beginSync(.incremental, step: "planning", at: start)
        let ids = dirty
        dirty = []
        var plan = core.beginPlan(for: ids, now: now)
        return finish(.incremental, plan: &plan, start: start, now: now)
    }

    /// Reads the kernel (every service, and the real servers of the ones the agent owns), adopts it into
    /// the core and applies the repairs.
    @discardableResult
    func syncFull(now: ContinuousClock.Instant) -> Bool {
        let start = ContinuousClock.now
        beginSync(.full, step: "reading the kernel", at: start)
        // The masquerade rules come from the desired state alone: a whole write (the first after start) runs
        // beside the read, which at 10k Services takes as long as the write itself.
        let masquerade = beginMasquerade(force: true)
        do throws(IPVSError) {
            let services = try kernel.services()
            if let binder { boundAddresses = try binder.addresses() }
            // Service by service: only one service's real servers are in memory at a time.
            var adoption = core.beginAdoption(expecting: services.count, claiming: ownershipClaims())
            for service in services {
                let id = service.virtualServer.id
                let servers = core.owned.contains(id) || adoption.claims(id) ? try kernel.servers(of: id) : nil
                core.adopt(service, servers: servers, into: &adoption)
            }
            reportRecovery(adoption, services: services)
            core.finishAdoption(adoption)
        } catch {
            failed("reading the kernel's IPVS table failed", error: "\(error)", now: now)
            // Never left running into the next sync's own write.
            if let problem = finishMasquerade(masquerade) {
                logger.error("masquerade write failed", metadata: ["error": "\(problem)"])
            }
            endSync()
            return false
        }
        dirty = []
        nextFullResync = now + configuration.resyncPeriod
        var plan = core.beginPlan(for: nil, now: now)
        return finish(.full, plan: &plan, start: start, now: now, masquerade: masquerade)
    }

    /// Services the agent has evidence of having created although `owned` lacks them: the intent record of a
    /// sync a crash interrupted, and, when the state file was missing or corrupt, desired services whose VIP
    /// the agent has bound (only the agent binds VIPs so: AddressBinder).
    private func ownershipClaims() -> Set<VirtualServer.ID> {
        var claims = pendingClaims
        if recovering && binder != nil && configuration.bindAddresses {
            for id in core.desired.virtualServers.keys {
                if case .service(_, let address, _) = id, boundAddresses.contains(address) { claims.insert(id) }
            }
        }
        return claims
    }

    /// Logs what the first full resync recovered, and services on the agent's VIPs it did not claim.
    private func reportRecovery(_ adoption: LoadBalancerState.Adoption, services: [ObservedVirtualServer]) {
        for id in adoption.claimed.sorted() {
            let evidence = pendingClaims.contains(id) ? "intent record" : "VIP bound on \(configuration.interface)"
            logger.notice("recovered ownership", metadata: ["vs": "\(id)", "evidence": "\(evidence)"])
        }
        if recovering {
            for service in services {
                let id = service.virtualServer.id
                guard !core.owned.contains(id), case .service(_, let address, _) = id, boundAddresses.contains(address)
                else { continue }
                logger.warning(
                    "a service on one of ipvsd's VIPs is not desired and not owned; left alone",
                    metadata: [
                        "vs": "\(id)",
                        "fix":
                            "if it is a leftover of ipvsd's (state file lost), delete it: ipvsadm -D \(id.ipvsadmArguments)",
                    ]
                )
            }
        }
        // The evidence has been used: from now on ownership comes from the state file alone.
        pendingClaims = []
        recovering = false
    }

    /// Reads the connection counts of services with draining real servers, so finished drains end.
    func checkDrains(now: ContinuousClock.Instant) {
        var changed = Set<VirtualServer.ID>()
        for id in core.drainingServices {
            do throws(IPVSError) {
                changed.formUnion(core.updateConnections(of: id, servers: try kernel.servers(of: id)))
            } catch {
                logger.warning("cannot read connection counts", metadata: ["vs": "\(id)", "error": "\(error)"])
            }
        }
        if let deadline = core.nextDrainDeadline, deadline <= now { changed.formUnion(core.drainingServices) }
        guard !changed.isEmpty else { return }
        dirty.formUnion(changed)
        syncChanges(now: now)
    }

    /// Binds new addresses, applies the plan (new services first, then the rest while it is planned),
    /// records the outcome, unbinds stale addresses, and saves ownership when it changed.
    /// - Parameters: start: when the sync began (real time, for its duration); now: the tick's time, which
    ///   schedules the retry.
    private func finish(
        _ kind: SyncKind,
        plan: inout LoadBalancerState.PlanCursor,
        start: ContinuousClock.Instant,
        now: ContinuousClock.Instant,
        masquerade begun: PendingMasquerade? = nil
    ) -> Bool {
        // The programmed counts, taken once for the metrics and the board (O(services), every sync).
        var counts: (services: Int, realServers: Int)?
        defer { endSync(counts: counts) }
        let conflictsBefore = core.conflicts
        let wanted = configuration.bindAddresses ? core.desired.addresses : []
        var problems: [String] = []
        // Masqueraded before new real servers serve (an endpoint picked for its own connection must already
        // be); a whole write runs beside the binding and the new services, which serve nothing yet.
        let masquerade = begun ?? beginMasquerade(force: kind == .full)
        syncStep("binding addresses")
        if let binder {
            let adding = wanted.subtracting(boundAddresses).sorted()
            let failures = binder.add(adding)
            boundAddresses.formUnion(adding)
            for failure in failures { boundAddresses.remove(failure.address) }
            // Named one by one up to a few; a whole cluster's VIPs failing at once is one line.
            for failure in failures.prefix(Self.refusedOperationsShown) {
                problems.append("bind \(failure.address): \(failure.error)")
            }
            if failures.count > Self.refusedOperationsShown {
                problems.append("\(failures.count - Self.refusedOperationsShown) more addresses not bound")
            }
        }
        stepHook?(.addressesBound)
        var failures = 0
        // New services go in first, on their own: when one is refused (EEXIST: another tool created it since
        // the last read), its real servers must not follow in the same batch into that foreign service.
        let newServices = core.plannedAdditions(plan)
        var refused = Set<VirtualServer.ID>()
        var intentRecorded = true
        if !newServices.isEmpty {
            syncStep("adding \(newServices.count) services")
            // Intent first: a crash after the kernel accepts the adds but before ownership is saved must not
            // leave services nobody owns. Without a durable record, adding would risk exactly that.
            pendingAdds = Set(newServices.compactMap(\.virtualServerID))
            if savePersisted() {
                stepHook?(.intentRecorded)
                refused = applyAndRecord(newServices, failures: &failures)
                stepHook?(.servicesAdded)
                pendingAdds = []
                if savePersisted() { stepHook?(.ownershipRecorded) }
            } else {
                intentRecorded = false
                refused = pendingAdds
                pendingAdds = []
                dirty.formUnion(refused)
                problems.append(
                    "cannot record \(refused.count) new services in the state file \(configuration.stateFile); "
                        + "not adding them, and keeping the services no longer desired until they can be"
                )
            }
        }
        syncStep("writing masquerade rules")
        if let problem = finishMasquerade(masquerade) { problems.append(problem) }
        // The rest goes to the kernel while it is planned; the real servers of a refused service stay out.
        syncStep("applying changes")
        // Without the intent record no service was added; then none goes either, nor its address, so a
        // Service that moved to a new port or address keeps its old one instead of having neither.
        let keeping = !intentRecorded
        let rest = core.applyPlan(&plan, to: kernel, skipping: refused, keepingServices: keeping)
        note(rest.sent, failures: rest.failures, failedIDs: rest.failedIDs, into: &failures)
        stepHook?(.changesApplied)
        syncStep("unbinding addresses")
        let skipped = rest.skipped
        let operationCount = newServices.count + rest.sent.total + skipped
        if let binder, !keeping {
            for address in boundAddresses.subtracting(wanted).sorted() {
                do throws(IPVSError) {
                    try binder.remove(address)
                    boundAddresses.remove(address)
                    // The interface is the agent's alone (docs/host-network.md): every address on it that no
                    // desired virtual server uses goes, including ones another program added.
                    logger.notice(
                        "unbound an address no virtual server uses",
                        metadata: ["address": "\(address)", "interface": "\(configuration.interface)"]
                    )
                } catch {
                    problems.append("unbind \(address): \(error)")
                }
            }
        }
        stepHook?(.addressesUnbound)
        syncStep("saving state")
        if !savePersisted() { problems.append("cannot write the state file \(configuration.stateFile)") }
        stepHook?(.stateSaved)
        publishHealthTargets()
        reportConflicts(since: conflictsBefore)
        let end = ContinuousClock.now
        let report = SyncReportValue(
            kind: kind,
            at: end,
            duration: end - start,
            operations: operationCount,
            failures: failures
        )
        let programmed = core.programmedCounts
        counts = programmed
        metrics.recordSync(report, counts: programmed)
        lastSync = report
        if kind == .full { lastFullSync = report }
        if failures > 0 || !problems.isEmpty {
            let skippedNote = skipped > 0 ? " (\(skipped) more skipped with the services refused)" : ""
            var messages = problems
            if failures > 0 {
                messages.insert("\(failures) of \(operationCount) operations failed\(skippedNote)", at: 0)
            }
            failed("sync incomplete", error: messages.joined(separator: "; "), now: now)
            publishHealthCheckNodePorts()
            return false
        }
        lastError = nil
        refusedOperations = []
        retryAt = nil
        retryBackoff = .seconds(1)
        if !ready {
            ready = true
            logger.info("ready: desired state programmed")
        }
        observeKubernetesEvents(at: end)
        publishHealthCheckNodePorts()
        if operationCount > 0 {
            logger.info(
                "synced",
                metadata: [
                    "kind": "\(kind.rawValue)", "operations": "\(operationCount)",
                    "duration_ms": "\((end - start).milliseconds)",
                    "steps_ms": "\(Self.stepDurations(syncSteps, until: end))",
                ]
            )
        }
        return true
    }

    /// Shows a sync as running on the board (`ipvsctl agent status` during a long first sync).
    private func beginSync(_ kind: SyncKind, step: String, at start: ContinuousClock.Instant) {
        board.update { $0.running = .init(kind: kind, step: step, started: start, stepStarted: start) }
        syncSteps = [(step, start)]
    }

    private func syncStep(_ step: String) {
        let now = ContinuousClock.now
        syncSteps.append((step, now))
        board.update {
            $0.running?.step = step
            $0.running?.stepStarted = now
        }
    }

    /// Each step of the running sync that took a millisecond or more, with its milliseconds ("binding
    /// addresses=2104, applying changes=3920"): where a long sync's time went, from its log line alone.
    static func stepDurations(
        _ steps: [(step: String, started: ContinuousClock.Instant)],
        until end: ContinuousClock.Instant
    ) -> String {
        let ends = steps.dropFirst().map(\.started) + [end]
        return stepDurations(zip(steps, ends).map { step, stepEnd in (step.step, stepEnd - step.started) })
    }

    /// Steps given with their durations, as above (a manifest load's phases).
    static func stepDurations(_ steps: [(step: String, duration: Duration)]) -> String {
        steps.compactMap { step in
            let milliseconds = Int(step.duration.milliseconds.rounded())
            return milliseconds >= 1 ? "\(step.step)=\(milliseconds)" : nil
        }.joined(separator: ", ")
    }

    /// The sync ended (done or failed): the board shows what it left in the tables.
    /// - Parameter counts: ``LoadBalancerState/programmedCounts`` when the sync already took them.
    private func endSync(counts: (services: Int, realServers: Int)? = nil) {
        board.update { $0.running = nil }
        publishTables(counts: counts ?? core.programmedCounts)
    }

    /// Warns once about each new conflict, with the fix.
    private func reportConflicts(since before: Set<VirtualServer.ID>) {
        for id in core.conflicts.subtracting(before).sorted() {
            logger.warning(
                "another tool holds a desired virtual server; left alone",
                metadata: [
                    "vs": "\(id)",
                    "fix": .string(
                        "remove the other tool's service (ipvsadm -D \(id.ipvsadmArguments)) or change the Service; "
                            + "ipvsd then creates its own"
                    ),
                ]
            )
        }
    }

    /// One bulk apply, recorded in the core, logged and counted; returns the virtual servers of the refused
    /// operations.
    private func applyAndRecord(_ operations: [IPVSOperation], failures: inout Int) -> Set<VirtualServer.ID> {
        let result = kernel.apply(operations, progress: nil)
        let failedIDs = core.record(operations, result: result)
        note(OperationTally(operations), failures: result.failures, failedIDs: failedIDs, into: &failures)
        return Set(result.failures.compactMap(\.operation.virtualServerID))
    }

    /// Counts, logs and keeps for the status what a bulk apply (already recorded in the core) did.
    private func note(
        _ sent: OperationTally,
        failures failed: [BulkApplyResult.Failure],
        failedIDs: Set<VirtualServer.ID>,
        into failures: inout Int
    ) {
        failures += failed.count
        dirty.formUnion(failedIDs)
        if sent.total > 0 {
            refusedOperations = failed.prefix(Self.refusedOperationsShown).map { "\($0.operation): \($0.error)" }
        }
        for failure in failed {
            logger.error(
                "kernel refused an operation",
                metadata: ["op": "\(failure.operation)", "error": "\(failure.error)"]
            )
        }
        metrics.recordOperations(sent, failures: failed)
    }

    /// Records a failed sync and schedules a retry with exponential backoff.
    private func failed(_ what: String, error: String, now: ContinuousClock.Instant) {
        lastError = error
        metrics.syncErrors.increment()
        retryAt = now + retryBackoff
        logger.error(
            "\(what); retrying",
            metadata: ["error": "\(error)", "retry_in": "\(retryBackoff)"]
        )
        retryBackoff = min(retryBackoff * 2, configuration.maxRetryBackoff)
        fullResyncRequested = true
    }

    /// Deletes everything the agent owns and unbinds its addresses (`ipvsd cleanup`). Services in the intent
    /// record of an interrupted sync are the agent's too; addresses still used by services it does not own
    /// stay bound.
    public func cleanup() throws(AgentError) -> Int {
        let services: [ObservedVirtualServer]
        do throws(IPVSError) {
            services = try kernel.services()
            core.adopt(services: services, servers: [:], claiming: pendingClaims)
        } catch {
            throw AgentError(.kernel, "reading the kernel's IPVS table", cause: error)
        }
        pendingClaims = []
        let owned = core.owned
        let operations = core.cleanupPlan()
        let result = kernel.apply(operations, progress: nil)
        core.record(operations, result: result)
        if let failure = result.failures.first {
            savePersisted()
            throw AgentError(.kernel, "cleanup: \(failure.operation)", cause: failure.error)
        }
        if let binder {
            var inUse = Set<IPAddress>()
            for service in services where !owned.contains(service.virtualServer.id) {
                if case .service(_, let address, _) = service.virtualServer.id { inUse.insert(address) }
            }
            do throws(IPVSError) {
                for address in try binder.addresses() {
                    guard !inUse.contains(address) else {
                        logger.warning(
                            "address kept: a service ipvsd does not own uses it",
                            metadata: ["address": "\(address)", "interface": "\(configuration.interface)"]
                        )
                        continue
                    }
                    try binder.remove(address)
                }
            } catch {
                throw AgentError(.hostNetwork, "cleanup", cause: error)
            }
        }
        if let packetFilter {
            do throws(IPVSError) { try packetFilter.remove() } catch {
                throw AgentError(.hostNetwork, "cleanup", cause: error)
            }
        }
        savePersisted()
        return operations.count
    }
}
