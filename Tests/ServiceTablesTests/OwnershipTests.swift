import IPVS
import ServiceTables
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

@Suite struct OwnershipTests {
    @Test func foreignServicesAreNeverTouchedAndADesiredOneIsAConflict() throws {
        var h = Harness()
        let handMade = VirtualServer(id: serviceID(1), scheduler: .leastConnection)
        let other = VirtualServer(id: serviceID(9))
        h.kernel.apply(
            [.addService(handMade), .addServer(endpoint(7).realServer, to: handMade.id), .addService(other)],
            progress: nil
        )
        h.kernel.clearLog()

        h.state.adopt(services: try h.kernel.services(), servers: [:])
        let mine = service(serviceID(2), [endpoint(1)])
        h.set([service(serviceID(1), [endpoint(1)]), mine])
        try h.resync()
        #expect(h.kernel.log == [.addService(mine.virtualServer), .addServer(endpoint(1).realServer, to: mine.id)])
        #expect(h.state.conflicts == [serviceID(1)])
        #expect(h.state.owned == [serviceID(2)])
        #expect(h.kernel.contents[serviceID(1)]?.service == handMade)
        #expect(h.state.snapshot(now: h.now).first { $0.id == serviceID(1) }?.conflict == true)
        #expect(h.state.cleanupPlan() == [.deleteService(serviceID(2))])

        // The foreign one disappears: the next full resync takes the ID over.
        h.kernel.apply([.deleteService(serviceID(1))], progress: nil)
        h.kernel.clearLog()
        try h.resync()
        #expect(
            h.kernel.log == [
                .addService(VirtualServer(id: serviceID(1), scheduler: .roundRobin)),
                .addServer(endpoint(1).realServer, to: serviceID(1)),
            ]
        )
        #expect(h.state.conflicts.isEmpty)
        #expect(h.state.owned == [serviceID(1), serviceID(2)])
    }

    @Test func addRefusedBecauseSomeoneElseGotThereFirstBecomesAConflictAndIsLeftAsFound() {
        var h = Harness()
        let foreign = VirtualServer(id: serviceID(1), scheduler: .leastConnection)
        h.kernel.apply([.addService(foreign), .addServer(endpoint(7).realServer, to: foreign.id)], progress: nil)
        let changed = h.state.setDesired(desiredState([service(serviceID(1), [endpoint(1)])]))
        let operations = h.state.plan(for: changed, now: h.now)
        let result = h.kernel.apply(operations, progress: nil)
        // Bulk apply is not transactional: the addServer that followed the refused add went in.
        #expect(result.failures.map(\.error.code) == [.alreadyExists])
        #expect(h.state.record(operations, result: result) == [serviceID(1)])
        #expect(h.state.conflicts.isEmpty)

        #expect(h.sync([]) == [.deleteServer(serverID(1), from: serviceID(1))])
        #expect(h.state.conflicts == [serviceID(1)])
        #expect(h.state.owned.isEmpty)
        #expect(h.kernel.contents[serviceID(1)]?.service == foreign)
        #expect(h.kernelWeights(serviceID(1)) == [serverID(7): 1])
        #expect(h.sync([]).isEmpty)
        #expect(h.sync([serviceID(1)]).isEmpty)
    }

    @Test func adoptRepairsDriftAndASecondResyncChangesNothing() throws {
        var h = Harness()
        let vs = serviceID(1)
        h.set([service(vs, [endpoint(1, weight: 2), endpoint(2), endpoint(3)])])
        // Someone edits our service by hand: a weight, a missing server, an extra server, the scheduler.
        h.kernel.apply(
            [
                .updateServer(endpoint(1, weight: 9).realServer, in: vs),
                .deleteServer(serverID(2), from: vs),
                .addServer(endpoint(4).realServer, to: vs),
                .updateService(VirtualServer(id: vs, scheduler: .sourceHashing)),
            ],
            progress: nil
        )
        var quiet4 = endpoint(4).realServer
        quiet4.weight = 0
        #expect(
            try h.resync() == [
                .updateService(VirtualServer(id: vs, scheduler: .roundRobin)),
                .updateServer(endpoint(1, weight: 2).realServer, in: vs),
                .addServer(endpoint(2).realServer, to: vs),
                .updateServer(quiet4, in: vs),
            ]
        )
        // The extra server drains; with connections left, the next resync has nothing to repair.
        h.kernel.setConnections(2, 0, of: serverID(4), in: vs)
        #expect(try h.resync().isEmpty)
        #expect(h.kernelWeights(vs) == [serverID(1): 2, serverID(2): 1, serverID(3): 1, serverID(4): 0])
        #expect(h.state.drainingServices == [vs])
    }

    @Test func ownedServiceDeletedByHandIsReAddedAfterResync() throws {
        var h = Harness()
        h.set([service(serviceID(1), [endpoint(1)])])
        h.kernel.apply([.deleteService(serviceID(1))], progress: nil)
        #expect(
            try h.resync() == [
                .addService(VirtualServer(id: serviceID(1), scheduler: .roundRobin)),
                .addServer(endpoint(1).realServer, to: serviceID(1)),
            ]
        )
        #expect(h.state.owned == [serviceID(1)])
    }

    @Test func restartAdoptsTheKernelRestoresWeightZeroAndNeverDeletesDesiredThings() throws {
        var before = Harness()
        before.set([
            service(serviceID(1), [endpoint(1, weight: 5), endpoint(2)]), service(serviceID(2), [endpoint(3)]),
        ])
        var quiet = endpoint(1, weight: 5).realServer
        quiet.weight = 0
        // The old process drained server 1, then died; server 2 and service 2 are no longer wanted.
        before.kernel.apply([.updateServer(quiet, in: serviceID(1))], progress: nil)

        var after = Harness(owned: before.state.owned)
        let kernel = before.kernel
        _ = after.state.setDesired(desiredState([service(serviceID(1), [endpoint(1, weight: 5), endpoint(2)])]))
        let services = try kernel.services()
        let servers = [
            serviceID(1): try kernel.servers(of: serviceID(1)), serviceID(2): try kernel.servers(of: serviceID(2)),
        ]
        after.state.adopt(services: services, servers: servers)
        let operations = after.state.plan(for: nil, now: after.now)
        #expect(
            operations == [
                .updateServer(endpoint(1, weight: 5).realServer, in: serviceID(1)), .deleteService(serviceID(2)),
            ]
        )
        #expect(!operations.contains(.flush))
        after.state.record(operations, result: kernel.apply(operations, progress: nil))
        #expect(after.state.owned == [serviceID(1)])
        #expect(after.state.plan(for: nil, now: after.now).isEmpty)
    }

    @Test func failedOperationsKeepTheServiceDirtyUntilARetrySucceeds() {
        var h = Harness()
        h.set([service(serviceID(1), [endpoint(1)])])
        h.kernel.failNext(errno: EBUSY) { if case .addServer = $0 { true } else { false } }
        let changed = h.state.setDesired(desiredState([service(serviceID(1), [endpoint(1), endpoint(2)])]))
        let operations = h.state.plan(for: changed, now: h.now)
        let result = h.kernel.apply(operations, progress: nil)
        #expect(result.failures.map(\.index) == [0])
        #expect(h.state.record(operations, result: result) == [serviceID(1)])
        #expect(h.state.programmedCounts.realServers == 1)
        // The next plan for anything else still retries it.
        #expect(h.sync([]) == [.addServer(endpoint(2).realServer, to: serviceID(1))])
        #expect(h.sync([]).isEmpty)
        #expect(h.kernelWeights(serviceID(1)) == [serverID(1): 1, serverID(2): 1])
    }

    @Test func deletingAServerSomeoneRemovedAlreadyIsLearntNotRepeated() {
        var h = Harness()
        h.set([service(serviceID(1, proto: .udp), [endpoint(1), endpoint(2)])])
        h.kernel.apply([.deleteServer(serverID(2), from: serviceID(1, proto: .udp))], progress: nil)
        h.set([service(serviceID(1, proto: .udp), [endpoint(1)])])
        #expect(h.sync([]).isEmpty)
        #expect(h.state.programmedCounts.realServers == 1)
    }
}
