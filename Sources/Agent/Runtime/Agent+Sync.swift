import IPVS
import LoadBalancer
import Logging

/// A finished sync, in the agent's clock.
struct SyncReportValue: Sendable {
    var kind: SyncKind
    var at: ContinuousClock.Instant
    var duration: Duration
    var operations: Int
    var failures: Int
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
        let ids = dirty
        dirty = []
        let operations = core.plan(for: ids, now: now)
        return finish(.incremental, operations: operations, start: start, now: now)
    }

    /// Reads the kernel (every service, and the real servers of the ones the agent owns), adopts it into
    /// the core and applies the repairs.
    @discardableResult
    func syncFull(now: ContinuousClock.Instant) -> Bool {
        let start = ContinuousClock.now
        do throws(IPVSError) {
            let services = try kernel.services()
            if let binder { boundAddresses = try binder.addresses() }
            // Service by service: only one service's real servers are in memory at a time.
            var adoption = core.beginAdoption(expecting: services.count)
            for service in services {
                let id = service.virtualServer.id
                let servers = core.owned.contains(id) ? try kernel.servers(of: id) : nil
                core.adopt(service, servers: servers, into: &adoption)
            }
            core.finishAdoption(adoption)
        } catch {
            failed("reading the kernel's IPVS table failed", error: "\(error)", now: now)
            return false
        }
        dirty = []
        nextFullResync = now + configuration.resyncPeriod
        let operations = core.plan(for: nil, now: now)
        return finish(.full, operations: operations, start: start, now: now)
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

    /// Binds new addresses, applies `operations` in one bulk call, records the outcome, unbinds stale
    /// addresses, and saves ownership when it changed.
    /// - Parameters: start: when the sync began (real time, for its duration); now: the tick's time, which
    ///   schedules the retry.
    private func finish(
        _ kind: SyncKind,
        operations: [IPVSOperation],
        start: ContinuousClock.Instant,
        now: ContinuousClock.Instant
    ) -> Bool {
        let wanted = configuration.bindAddresses ? core.desired.addresses : []
        var addressErrors: [String] = []
        if let binder {
            for address in wanted.subtracting(boundAddresses).sorted() {
                do throws(IPVSError) {
                    try binder.add(address)
                    boundAddresses.insert(address)
                } catch {
                    addressErrors.append("bind \(address): \(error)")
                }
            }
        }
        var failures = 0
        // New services go in first, on their own: when one is refused (EEXIST: another tool created it since
        // the last read), its real servers must not follow in the same batch into that foreign service.
        let newServices = operations.filter { if case .addService = $0 { true } else { false } }
        let refused = newServices.isEmpty ? [] : applyAndRecord(newServices, failures: &failures)
        let rest = operations.filter { operation in
            if case .addService = operation { return false }
            return operation.virtualServerID.map { !refused.contains($0) } ?? true
        }
        if !rest.isEmpty { _ = applyAndRecord(rest, failures: &failures) }
        let skipped = operations.count - newServices.count - rest.count
        if let binder {
            for address in boundAddresses.subtracting(wanted).sorted() {
                do throws(IPVSError) {
                    try binder.remove(address)
                    boundAddresses.remove(address)
                } catch {
                    addressErrors.append("unbind \(address): \(error)")
                }
            }
        }
        savePersisted()
        publishHealthTargets()
        let end = ContinuousClock.now
        let report = SyncReportValue(
            kind: kind,
            at: end,
            duration: end - start,
            operations: operations.count,
            failures: failures
        )
        metrics.recordSync(report, counts: core.programmedCounts)
        lastSync = report
        if kind == .full { lastFullSync = report }
        if failures > 0 || !addressErrors.isEmpty {
            let skippedNote = skipped > 0 ? " (\(skipped) more skipped with the services refused)" : ""
            let message = addressErrors.first ?? "\(failures) of \(operations.count) operations failed\(skippedNote)"
            failed("sync incomplete", error: message, now: now)
            return false
        }
        lastError = nil
        retryAt = nil
        retryBackoff = .seconds(1)
        if !ready {
            ready = true
            logger.info("ready: desired state programmed")
        }
        if !operations.isEmpty {
            logger.info(
                "synced",
                metadata: [
                    "kind": "\(kind.rawValue)", "operations": "\(operations.count)",
                    "duration_ms": "\(Double((end - start).components.attoseconds) / 1e15)",
                ]
            )
        }
        return true
    }

    /// One bulk apply, recorded in the core, logged and counted; returns the virtual servers of the refused
    /// operations.
    private func applyAndRecord(_ operations: [IPVSOperation], failures: inout Int) -> Set<VirtualServer.ID> {
        let result = kernel.apply(operations, progress: nil)
        let failedIDs = core.record(operations, result: result)
        failures += result.failures.count
        dirty.formUnion(failedIDs)
        for failure in result.failures {
            logger.error(
                "kernel refused an operation",
                metadata: ["op": "\(failure.operation)", "error": "\(failure.error)"]
            )
        }
        metrics.recordOperations(operations, failures: result.failures)
        return Set(result.failures.compactMap(\.operation.virtualServerID))
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

    /// Deletes everything the agent owns and unbinds its addresses (`ipvsd cleanup`).
    public func cleanup() throws(AgentError) -> Int {
        do throws(IPVSError) {
            let services = try kernel.services()
            core.adopt(services: services, servers: [:])
        } catch {
            throw AgentError("reading the kernel's IPVS table: \(error)")
        }
        let operations = core.cleanupPlan()
        let result = kernel.apply(operations, progress: nil)
        core.record(operations, result: result)
        if let failure = result.failures.first {
            throw AgentError("cleanup: \(failure.operation): \(failure.error)")
        }
        if let binder {
            do throws(IPVSError) {
                for address in try binder.addresses() { try binder.remove(address) }
            } catch {
                throw AgentError("cleanup: \(error)")
            }
        }
        savePersisted()
        return operations.count
    }
}
