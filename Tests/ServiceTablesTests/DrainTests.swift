import IPVS
import ServiceTables
import Testing

@Suite struct DrainTests {
    private let vs = serviceID(1)

    private func quiet(_ host: UInt8, weight: UInt32 = 1) -> RealServer {
        var server = endpoint(host, weight: weight).realServer
        server.weight = 0
        return server
    }

    @Test func removedEndpointGoesToWeightZeroThenIsDeletedWhenConnectionsEnd() throws {
        var h = Harness()
        h.set([service(vs, [endpoint(1), endpoint(2)])])
        h.kernel.setConnections(3, 1, of: serverID(2), in: vs)
        #expect(h.set([service(vs, [endpoint(1)])]) == [.updateServer(quiet(2), in: vs)])
        #expect(h.kernelWeights(vs) == [serverID(1): 1, serverID(2): 0])
        #expect(h.state.drainingServices == [vs])
        #expect(h.state.nextDrainDeadline == h.now + .seconds(30))

        // Connections remain: nothing to do yet.
        #expect(try h.pollConnections().isEmpty)
        #expect(h.sync([vs]).isEmpty)

        h.kernel.setConnections(0, 0, of: serverID(2), in: vs)
        let ready = try h.pollConnections()
        #expect(ready == [vs])
        #expect(h.sync(ready) == [.deleteServer(serverID(2), from: vs)])
        #expect(h.kernelWeights(vs) == [serverID(1): 1])
        #expect(h.state.drainingServices.isEmpty)
        #expect(h.state.nextDrainDeadline == nil)
    }

    @Test func drainEndsAtTheGraceDeadlineEvenWithConnections() throws {
        var h = Harness(settings: LoadBalancerSettings(gracePeriod: .seconds(10)))
        h.set([service(vs, [endpoint(1), endpoint(2)])])
        h.kernel.setConnections(5, 0, of: serverID(2), in: vs)
        h.set([service(vs, [endpoint(1)])])
        #expect(try h.pollConnections().isEmpty)

        h.now += .seconds(9)
        #expect(h.sync([]).isEmpty)
        h.now += .seconds(1)
        // The agent wakes at the deadline and plans nothing in particular: the expired drain is included.
        #expect(h.sync([]) == [.deleteServer(serverID(2), from: vs)])
        #expect(h.kernelWeights(vs) == [serverID(1): 1])
    }

    @Test func notReadyEndpointDrainsLikeARemovedOne() {
        var h = Harness()
        h.set([service(vs, [endpoint(1), endpoint(2)])])
        let operations = h.set([service(vs, [endpoint(1), endpoint(2, conditions: .notReady)])])
        #expect(operations == [.updateServer(quiet(2), in: vs)])
        #expect(h.state.snapshot(now: h.now)[0].realServers.map(\.state) == [.serving, .draining])
    }

    @Test func udpRealServersAreDeletedAtOnce() {
        var h = Harness()
        let dns = serviceID(1, port: 53, proto: .udp)
        h.set([service(dns, [endpoint(1), endpoint(2)])])
        #expect(h.set([service(dns, [endpoint(1)])]) == [.deleteServer(serverID(2), from: dns)])
        #expect(h.state.drainingServices.isEmpty)
    }

    @Test func drainingEndpointThatComesBackGetsItsWeightBack() {
        var h = Harness()
        h.set([service(vs, [endpoint(1), endpoint(2, weight: 4)])])
        h.set([service(vs, [endpoint(1)])])
        #expect(h.kernelWeights(vs)[serverID(2)] == 0)

        h.now += .seconds(60)
        let back = h.set([service(vs, [endpoint(1), endpoint(2, weight: 4)])])
        #expect(back == [.updateServer(endpoint(2, weight: 4).realServer, in: vs)])
        #expect(h.state.drainingServices.isEmpty)
        #expect(h.state.nextDrainDeadline == nil)
        #expect(h.kernelWeights(vs) == [serverID(1): 1, serverID(2): 4])
    }

    @Test func readyEndpointsServeAndTerminatingOnesStandInOnlyWhenNoneIsReady() {
        var h = Harness()
        let endpoints = [
            endpoint(1, conditions: .terminatingServing),
            endpoint(2, conditions: .terminatingGone),
            endpoint(3, conditions: .notReady),
        ]
        #expect(
            h.set([service(vs, endpoints)]) == [
                .addService(VirtualServer(id: vs, scheduler: .roundRobin)),
                .addServer(endpoint(1).realServer, to: vs),
            ]
        )
        // A ready endpoint appears: the terminating one is no longer needed and drains.
        let operations = h.set([service(vs, endpoints + [endpoint(4)])])
        #expect(operations == [.addServer(endpoint(4).realServer, to: vs), .updateServer(quiet(1), in: vs)])
    }

    @Test func snapshotReportsDrainDurationAndWeights() {
        var h = Harness()
        h.set([service(vs, [endpoint(1, weight: 3), endpoint(2)])])
        h.set([service(vs, [endpoint(1, weight: 3)])])
        let snapshot = h.state.snapshot(now: h.now + .seconds(4))
        let draining = snapshot[0].realServers[1]
        #expect(draining.id == serverID(2))
        #expect(draining.state == .draining)
        #expect(draining.drainingFor == .seconds(4))
        #expect(draining.programmedWeight == 0)
        #expect(draining.desiredWeight == nil)
        #expect(snapshot[0].realServers[0].programmedWeight == 3)
        #expect(snapshot[0].realServers[0].target == "pod-1")
    }
}
