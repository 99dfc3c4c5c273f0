import IPVS
import ServiceTables
import Testing

@Suite struct PlanningTests {
    @Test func addFromEmptyEmitsServicesBeforeTheirServersInOrder() {
        var h = Harness()
        let web = service(serviceID(1), [endpoint(2), endpoint(1, weight: 5)])
        let dns = service(serviceID(2, port: 53, proto: .udp), [endpoint(3)])
        let operations = h.set([dns, web])
        #expect(
            operations == [
                .addService(web.virtualServer),
                .addServer(endpoint(1, weight: 5).realServer, to: web.id),
                .addServer(endpoint(2).realServer, to: web.id),
                .addService(dns.virtualServer),
                .addServer(endpoint(3).realServer, to: dns.id),
            ]
        )
        #expect(h.state.owned == [web.id, dns.id])
        #expect(h.kernelWeights(web.id) == [serverID(1): 5, serverID(2): 1])
        #expect(h.state.programmedCounts == (services: 2, realServers: 3))
    }

    @Test func unchangedDesiredStatePlansNothing() {
        var h = Harness()
        let web = service(serviceID(1), [endpoint(1), endpoint(2)])
        h.set([web])
        #expect(h.state.setDesired(desiredState([web])).isEmpty)
        #expect(h.state.plan(for: [web.id], now: h.now).isEmpty)
        #expect(h.state.plan(for: nil, now: h.now).isEmpty)
    }

    @Test func oneNewEndpointIsExactlyOneAddServerWithoutReadingTheKernel() {
        var h = Harness()
        h.set([service(serviceID(1), [endpoint(1)])])
        h.kernel.clearLog()
        let changed = h.state.setDesired(desiredState([service(serviceID(1), [endpoint(1), endpoint(2)])]))
        #expect(changed == [serviceID(1)])
        #expect(h.sync(changed) == [.addServer(endpoint(2).realServer, to: serviceID(1))])
        #expect(h.kernel.readCount == 0)
    }

    @Test func changedSchedulerAndWeightAreUpdates() {
        var h = Harness()
        h.set([service(serviceID(1), [endpoint(1)])])
        let changed = service(serviceID(1), [endpoint(1, weight: 7)], scheduler: .weightedRoundRobin)
        #expect(
            h.set([changed]) == [
                .updateService(changed.virtualServer),
                .updateServer(endpoint(1, weight: 7).realServer, in: serviceID(1)),
            ]
        )
        #expect(h.kernel.contents[serviceID(1)]?.service.scheduler == .weightedRoundRobin)
    }

    @Test func serviceNoLongerDesiredIsDeletedAtOnceAndLeavesOwned() {
        var h = Harness()
        h.set([service(serviceID(1), [endpoint(1)]), service(serviceID(2), [endpoint(2)])])
        #expect(h.set([service(serviceID(2), [endpoint(2)])]) == [.deleteService(serviceID(1))])
        #expect(h.state.owned == [serviceID(2)])
        #expect(h.kernel.contents[serviceID(1)] == nil)
    }

    @Test func newServersGoInBeforeOldOnesDrainAndServiceDeletionsComeLast() {
        var h = Harness()
        h.set([service(serviceID(1), [endpoint(1)]), service(serviceID(2), [endpoint(1)])])
        var quiet = endpoint(1).realServer
        quiet.weight = 0
        let operations = h.set([service(serviceID(1), [endpoint(2)])])
        #expect(
            operations == [
                .addServer(endpoint(2).realServer, to: serviceID(1)),
                .updateServer(quiet, in: serviceID(1)),
                .deleteService(serviceID(2)),
            ]
        )
    }

    @Test func cleanupPlanDeletesEveryOwnedServiceOnly() {
        var h = Harness()
        h.kernel.apply([.addService(VirtualServer(id: serviceID(9)))], progress: nil)
        h.set([service(serviceID(2), [endpoint(1)]), service(serviceID(1), [endpoint(1)])])
        #expect(h.state.cleanupPlan() == [.deleteService(serviceID(1)), .deleteService(serviceID(2))])
    }
}
