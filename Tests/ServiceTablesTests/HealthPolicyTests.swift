import IPVS
import ServiceTables
import Testing

@Suite struct HealthPolicyTests {
    private let vs = serviceID(1)
    private static let down = HealthStatus(state: .down, lastResult: "connection refused")
    private static let up = HealthStatus(state: .up, lastResult: "ok")

    private func target(_ host: UInt8, _ spec: HealthCheckSpec) -> HealthTarget {
        HealthTarget(realServer: serverID(host), spec: spec)
    }

    @Test func downEndpointIsDeletedAtOnceWithDeleteAction() {
        let spec = HealthCheckSpec(failureAction: .delete)
        var h = Harness()
        h.set([service(vs, [endpoint(1), endpoint(2)], healthCheck: spec)])
        let changed = h.state.setHealth(Self.down, for: target(2, spec))
        #expect(changed == [vs])
        #expect(h.sync(changed) == [.deleteServer(serverID(2), from: vs)])
        #expect(h.state.drainingServices.isEmpty)
        #expect(h.state.snapshot(now: h.now)[0].realServers.map(\.state) == [.serving, .healthFailed])

        // Recovery re-adds it.
        let recovered = h.state.setHealth(Self.up, for: target(2, spec))
        #expect(h.sync(recovered) == [.addServer(endpoint(2).realServer, to: vs)])
    }

    @Test func downEndpointKeepsWeightZeroWithWeightZeroAction() {
        let spec = HealthCheckSpec(failureAction: .weightZero)
        var h = Harness()
        h.set([service(vs, [endpoint(1), endpoint(2, weight: 3)], healthCheck: spec)])
        var quiet = endpoint(2, weight: 3).realServer
        quiet.weight = 0
        #expect(h.sync(h.state.setHealth(Self.down, for: target(2, spec))) == [.updateServer(quiet, in: vs)])
        #expect(h.state.drainingServices.isEmpty)
        #expect(
            h.sync(h.state.setHealth(Self.up, for: target(2, spec))) == [
                .updateServer(endpoint(2, weight: 3).realServer, in: vs)
            ]
        )
    }

    @Test func statusChangeThatKeepsServingReturnsNothing() {
        let spec = HealthCheckSpec()
        var h = Harness()
        h.set([service(vs, [endpoint(1)], healthCheck: spec)])
        #expect(h.state.setHealth(Self.up, for: target(1, spec)).isEmpty)
        #expect(h.state.healthStatus(of: target(1, spec)) == Self.up)
        #expect(h.state.setHealth(Self.down, for: target(9, spec)).isEmpty)
    }

    @Test(arguments: [AllDownPolicy.keepAll, .removeAll])
    func allDownPolicyDecidesWhenEveryEndpointFails(policy: AllDownPolicy) {
        let spec = HealthCheckSpec(failureAction: .delete)
        var h = Harness()
        h.set([service(vs, [endpoint(1), endpoint(2)], healthCheck: spec, allDown: policy)])
        #expect(h.sync(h.state.setHealth(Self.down, for: target(1, spec))) == [.deleteServer(serverID(1), from: vs)])
        let last = h.sync(h.state.setHealth(Self.down, for: target(2, spec)))
        switch policy {
        case .keepAll:
            // Every endpoint failed: all of them serve again at their weights as a last resort.
            #expect(last == [.addServer(endpoint(1).realServer, to: vs)])
            #expect(h.kernelWeights(vs) == [serverID(1): 1, serverID(2): 1])
        case .removeAll:
            #expect(last == [.deleteServer(serverID(2), from: vs)])
            #expect(h.kernelWeights(vs).isEmpty)
        }
    }

    @Test func targetsAreSharedAcrossVirtualServersWithTheSameBackendAndCheck() {
        let spec = HealthCheckSpec(kind: .http(.init(path: "/healthz")))
        var h = Harness()
        h.set([
            service(serviceID(1), [endpoint(1), endpoint(2)], healthCheck: spec),
            service(serviceID(2), [endpoint(1)], healthCheck: spec),
            service(serviceID(3), [endpoint(1)]),
        ])
        let targets = h.state.healthTargets
        #expect(targets.count == 2)
        #expect(
            targets[target(1, spec)] == [
                HealthReference(virtualServer: serviceID(1), realServer: serverID(1)),
                HealthReference(virtualServer: serviceID(2), realServer: serverID(1)),
            ]
        )
        #expect(h.state.setHealth(Self.down, for: target(1, spec)) == [serviceID(1), serviceID(2)])

        // Dropping the check from one service removes its references, and unused targets disappear.
        h.set([service(serviceID(1), [endpoint(1)], healthCheck: spec), service(serviceID(2), [endpoint(1)])])
        #expect(
            h.state.healthTargets == [
                target(1, spec): [HealthReference(virtualServer: serviceID(1), realServer: serverID(1))]
            ]
        )
    }
}
