import IPVS
import ServiceTables
import TestSupport
import Testing

@Suite struct ConvergenceTests {
    private static let spec = HealthCheckSpec(failureAction: .weightZero)

    /// A random desired state over a small space of IDs, so steps add, change and remove the same things.
    private func randomState(_ rng: inout SplitMix64) -> [DesiredVirtualServer] {
        var services: [DesiredVirtualServer] = []
        for host in UInt8(1)...5 where Bool.random(using: &rng) {
            let proto: IPProtocol = host == 5 ? .udp : .tcp
            var endpoints: [DesiredRealServer] = []
            for backend in UInt8(1)...6 where Int.random(in: 0..<3, using: &rng) > 0 {
                let conditions = [EndpointConditions.ready, .ready, .notReady, .terminatingServing]
                    .randomElement(using: &rng)!
                endpoints.append(
                    endpoint(backend, weight: UInt32.random(in: 1...3, using: &rng), conditions: conditions)
                )
            }
            let health = host.isMultiple(of: 2) ? Self.spec : nil
            let scheduler: Scheduler = Bool.random(using: &rng) ? .roundRobin : .weightedLeastConnection
            services.append(
                service(serviceID(host, proto: proto), endpoints, scheduler: scheduler, healthCheck: health)
            )
        }
        return services
    }

    /// What the kernel must hold once drains are over: each desired service with its serving weights.
    private func expected(_ state: LoadBalancerState) -> [VirtualServer.ID: [RealServer.ID: UInt32]] {
        var result: [VirtualServer.ID: [RealServer.ID: UInt32]] = [:]
        for (id, desired) in state.desired.virtualServers {
            let anyReady = desired.realServers.values.contains { $0.conditions.ready }
            var selected: [RealServer.ID: UInt32] = [:]
            for (serverID, server) in desired.realServers {
                let c = server.conditions
                if anyReady ? c.ready : (c.serving && c.terminating) { selected[serverID] = server.realServer.weight }
            }
            if let spec = desired.healthCheck {
                let down = selected.keys.filter {
                    state.healthStatus(of: HealthTarget(realServer: $0, spec: spec)).state == .down
                }
                if down.count < selected.count {
                    for serverID in down { selected[serverID] = 0 }
                }
            }
            result[id] = selected
        }
        return result
    }

    private func kernelTable(_ h: Harness) -> [VirtualServer.ID: [RealServer.ID: UInt32]] {
        h.kernel.contents.mapValues { $0.servers.mapValues(\.weight) }
    }

    /// Between settlements, desired servers are in at their weights and any others are draining at 0.
    private func checkInvariant(_ h: Harness, _ context: Comment) {
        let kernel = kernelTable(h)
        let wanted = expected(h.state)
        #expect(Set(kernel.keys) == Set(wanted.keys), context)
        for (id, servers) in wanted {
            let held = kernel[id] ?? [:]
            for (server, weight) in servers { #expect(held[server] == weight, context) }
            for (server, weight) in held where servers[server] == nil { #expect(weight == 0, context) }
        }
    }

    @Test(arguments: [UInt64(1), 2, 3, 42, 2024])
    func randomDesiredStatesAlwaysConverge(seed: UInt64) throws {
        var rng = SplitMix64(seed: seed)
        var h = Harness()
        for step in 0..<60 {
            let context: Comment = "seed \(seed) step \(step)"
            h.set(randomState(&rng))
            for target in h.state.healthTargets.keys where Int.random(in: 0..<4, using: &rng) == 0 {
                let status = HealthStatus(state: Bool.random(using: &rng) ? .down : .up)
                h.sync(h.state.setHealth(status, for: target))
            }
            if step.isMultiple(of: 3) {
                for id in h.state.drainingServices {
                    for server in h.kernel.contents[id].map({ Array($0.servers.keys) }) ?? [] {
                        h.kernel.setConnections(0, 0, of: server, in: id)
                    }
                }
                h.sync(try h.pollConnections())
            }
            if step.isMultiple(of: 5) {
                // Connections everywhere, so the read does not end drains: a resync must then find nothing.
                for (id, entry) in h.kernel.contents {
                    for server in entry.servers.keys { h.kernel.setConnections(1, 0, of: server, in: id) }
                }
                #expect(try h.resync().isEmpty, context)
            }
            checkInvariant(h, context)
            h.now += .seconds(Int.random(in: 0...20, using: &rng))
            if step.isMultiple(of: 4) {
                // Past every grace period, the kernel holds exactly the serving set.
                h.now += .seconds(31)
                h.sync([])
                #expect(kernelTable(h) == expected(h.state), context)
                #expect(h.state.drainingServices.isEmpty, context)
                #expect(try h.resync().isEmpty, context)
            }
            #expect(h.state.owned == Set(h.state.desired.virtualServers.keys), context)
        }
        #expect(h.kernel.readCount > 0)
    }
}
