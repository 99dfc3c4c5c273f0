import IPVS
import ServiceTables
import TestSupport
import Testing

/// `updateDesired` (a delta) must leave the core exactly as `setDesired` with the whole new state would.
@Suite struct DesiredDeltaTests {
    @Test func deltaAndFullReplacementAgree() {
        var generator = SplitMix64(seed: 7)
        let checked = HealthCheckSpec()
        // Each path keeps masquerade rules too, under a different mode (`all` also masquerades cluster IPs).
        var byDelta = Harness(settings: LoadBalancerSettings(masquerade: .all))
        var byFull = Harness(settings: LoadBalancerSettings(masquerade: .hairpin))
        var current: [VirtualServer.ID: DesiredVirtualServer] = [:]
        // What a prober told only the changes would hold, told after a random number of steps (so additions
        // and removals in between must cancel), by each path.
        var proberByDelta = Set<HealthTarget>()
        var proberByFull = Set<HealthTarget>()
        // What a packet filter told only the masquerade changes would hold, by each path.
        var filterByDelta = MasqueradeRules()
        var filterByFull = MasqueradeRules()
        for step in 0..<200 {
            var delta: [VirtualServer.ID: DesiredVirtualServer?] = [:]
            for _ in 0..<Int.random(in: 1...3, using: &generator) {
                let id = serviceID(UInt8.random(in: 1...6, using: &generator))
                if Bool.random(using: &generator), current[id] != nil {
                    delta[id] = .some(nil)
                } else {
                    let hosts = (1...6).filter { _ in Bool.random(using: &generator) }.map(UInt8.init)
                    // Some endpoints on other nodes: they have no hairpin element, and an endpoint that moves
                    // between nodes changes the rules without changing the kernel's table.
                    let weights = hosts.map {
                        endpoint(
                            $0,
                            weight: UInt32.random(in: 0...3, using: &generator),
                            onOtherNode: Int.random(in: 0..<4, using: &generator) == 0
                        )
                    }
                    delta[id] = service(id, weights, healthCheck: Bool.random(using: &generator) ? checked : nil)
                }
            }
            let before = current
            for (id, next) in delta { current[id] = next }
            let expected = Set(delta.keys.filter { before[$0] != current[$0] })

            let deltaChanged = byDelta.state.updateDesired(delta)
            let fullChanged = byFull.state.setDesired(DesiredState(virtualServers: current))
            #expect(deltaChanged == expected)
            #expect(fullChanged == expected)
            #expect(byDelta.state.desired == byFull.state.desired)
            #expect(byDelta.state.healthTargets == byFull.state.healthTargets)
            if step % 3 == 0 || Bool.random(using: &generator) {
                let fromDelta = byDelta.state.takeHealthTargetChanges()
                let fromFull = byFull.state.takeHealthTargetChanges()
                #expect(fromDelta.added.isDisjoint(with: fromDelta.removed))
                #expect(
                    fromDelta.removed.isSubset(of: proberByDelta) && fromDelta.added.isDisjoint(with: proberByDelta)
                )
                proberByDelta.subtract(fromDelta.removed)
                proberByDelta.formUnion(fromDelta.added)
                proberByFull.subtract(fromFull.removed)
                proberByFull.formUnion(fromFull.added)
                #expect(proberByDelta == Set(byDelta.state.healthTargets.keys))
                #expect(proberByFull == Set(byFull.state.healthTargets.keys))
                for (harness, mode) in [(byDelta, MasqueradeMode.all), (byFull, .hairpin)] {
                    #expect(harness.state.masqueradeRules == mode.rules(for: harness.state.desired))
                }
                let deltaChanges = byDelta.state.takeMasqueradeChanges()
                let fullChanges = byFull.state.takeMasqueradeChanges()
                #expect(deltaChanges.removed.hairpin.isSubset(of: filterByDelta.hairpin))
                #expect(deltaChanges.added.hairpin.isDisjoint(with: filterByDelta.hairpin))
                filterByDelta.apply(deltaChanges)
                filterByFull.apply(fullChanges)
                #expect(filterByDelta == byDelta.state.masqueradeRules)
                #expect(filterByFull == byFull.state.masqueradeRules)
            }
            #expect(byDelta.sync(deltaChanged) == byFull.sync(fullChanged))
        }
        // A whole write's rules come from the desired state alone and leave no change pending.
        let rebuilt = byDelta.state.masqueradeRebuilder()()
        let installed = byDelta.state.install(rebuilt)
        #expect(installed)
        #expect(rebuilt.rules == MasqueradeMode.all.rules(for: byDelta.state.desired))
        #expect(byDelta.state.masqueradeRules == rebuilt.rules)
        let pending = byDelta.state.takeMasqueradeChanges()
        #expect(pending.added == MasqueradeRules() && pending.removed == MasqueradeRules())
        #expect(byDelta.kernel.contents.mapValues(\.servers) == byFull.kernel.contents.mapValues(\.servers))
        #expect(byDelta.kernel.contents.mapValues(\.service) == byFull.kernel.contents.mapValues(\.service))
        #expect(!byDelta.kernel.contents.isEmpty)
    }

    /// A masquerade rebuild runs off the agent's actor, from the desired state as it was when it began: it is
    /// installed only when nothing changed since; otherwise install says so and rebuilds from what is desired.
    @Test func aRebuildBegunBeforeAChangeIsNotInstalled() {
        var h = Harness(settings: LoadBalancerSettings(masquerade: .all))
        _ = h.state.updateDesired([serviceID(1): service(serviceID(1), [endpoint(1), endpoint(2)])])
        let rebuild = h.state.masqueradeRebuilder()
        let unchanged = h.state.masqueradeRebuilder()
        #expect(h.state.updateDesired([serviceID(1): service(serviceID(1), [endpoint(1), endpoint(2)])]).isEmpty)
        let current = h.state.install(unchanged())
        #expect(current)  // an update that changed nothing leaves a rebuild current
        _ = h.state.updateDesired([serviceID(2): service(serviceID(2), [endpoint(3)])])
        let stale = rebuild()
        #expect(
            stale.rules
                == MasqueradeMode.all.rules(
                    for: DesiredState(virtualServers: [
                        serviceID(1): service(serviceID(1), [endpoint(1), endpoint(2)])
                    ])
                )
        )
        let installedStale = h.state.install(stale)
        #expect(!installedStale)
        #expect(h.state.masqueradeRules == MasqueradeMode.all.rules(for: h.state.desired))
        #expect(h.state.masqueradeRules != stale.rules)
        let fresh = h.state.masqueradeRebuilder()()
        let installedFresh = h.state.install(fresh)
        #expect(installedFresh)
    }

    @Test func unchangedEntriesReportNothingAndStatusesOfDroppedTargetsGo() {
        let spec = HealthCheckSpec()
        let id = serviceID(1)
        let target = HealthTarget(realServer: serverID(2), spec: spec)
        var h = Harness()
        let original = service(id, [endpoint(1), endpoint(2)], healthCheck: spec)
        #expect(h.state.updateDesired([id: original]) == [id])
        #expect(h.state.updateDesired([id: original]).isEmpty)
        _ = h.state.setHealth(HealthStatus(state: .down, lastResult: "timeout"), for: target)
        #expect(h.state.healthStatus(of: target).state == .down)

        // Endpoint 2 leaves: its target is no longer checked and its status is forgotten.
        #expect(h.state.updateDesired([id: service(id, [endpoint(1)], healthCheck: spec)]) == [id])
        #expect(h.state.healthTargets[target] == nil)
        #expect(h.state.healthStatus(of: target).state == .unknown)
        #expect(h.state.updateDesired([id: nil]) == [id])
        #expect(h.state.desired.virtualServers.isEmpty)
    }
}

extension MasqueradeRules {
    /// What a packet filter holds after an update of these changes.
    fileprivate mutating func apply(_ changes: (removed: MasqueradeRules, added: MasqueradeRules)) {
        hairpin.subtract(changes.removed.hairpin)
        masqueraded.subtract(changes.removed.masqueraded)
        hairpin.formUnion(changes.added.hairpin)
        masqueraded.formUnion(changes.added.masqueraded)
    }
}
