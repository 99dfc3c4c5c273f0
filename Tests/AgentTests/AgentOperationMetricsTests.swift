import Agent
import IPVS
import Testing

/// `ipvsd_operations_total{op,result}` counts what each sync sent, by kind and outcome: the sync keeps only a
/// tally of each batch (not its operations), and the counters must still match what the kernel was sent.
@Suite struct AgentOperationMetricsTests {
    /// The counter's value for one kind and result, from the exposition text; nil when absent.
    static func counter(_ text: String, op: String, result: String) -> Int? {
        MetricsText.value(in: text, of: "ipvsd_operations_total", labels: ["op": op, "result": result])
    }

    @Test func countersMatchWhatTheKernelWasSent() async throws {
        let sandbox = try AgentSandbox()
        let metrics = AgentMetrics()
        let agent = try sandbox.makeAgent(metrics: metrics)
        // One real server refused: its service's other real servers still go.
        sandbox.kernel.failNext { if case .addServer = $0 { true } else { false } }
        await agent.tick(now: .now)

        let sent = OperationTally(sandbox.kernel.log)
        #expect(sent[.addService] == 4 && sent[.addServer] == 8, "\(sandbox.kernel.log)")
        let text = metrics.registry.emitToString()
        #expect(Self.counter(text, op: "add_service", result: "ok") == 4)
        #expect(Self.counter(text, op: "add_server", result: "ok") == 7)
        #expect(Self.counter(text, op: "add_server", result: "failed") == 1)
        #expect(Self.counter(text, op: "add_service", result: "failed") == nil)
        #expect(Self.counter(text, op: "delete_server", result: "ok") == nil)
        #expect(agent.status().lastFullSync?.operations == 12)
        #expect(agent.status().lastFullSync?.failures == 1)
    }

    @Test func tallyCountsEachKind() {
        let id = VirtualServer.ID.service(.tcp, IPAddress(ipv4: 0x0A00_0001), port: 80)
        let server = RealServer(address: IPAddress(ipv4: 0x0A00_0002), port: 8080)
        var tally = OperationTally([.addService(VirtualServer(id: id)), .addServer(server, to: id), .flush])
        tally.add([.deleteServer(server.id, from: id), .addServer(server, to: id)])
        #expect(tally.total == 5)
        #expect(tally[.addServer] == 2 && tally[.addService] == 1 && tally[.flush] == 1 && tally[.zero] == 0)
        #expect(tally.nonZero.map(\.kind) == [.addService, .addServer, .deleteServer, .flush])
        #expect(IPVSOperation.Kind.allCases.map(\.label).count == Set(IPVSOperation.Kind.allCases.map(\.label)).count)
        #expect(IPVSOperation.Kind.deleteServer.label == "delete_server")
    }
}
