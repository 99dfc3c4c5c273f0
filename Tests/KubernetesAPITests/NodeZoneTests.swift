import Foundation
import KubernetesManifests
import KubernetesStandIn
import KubernetesWire
import Logging
import Metrics
import NIOCore
import Testing

@testable import KubernetesAPI

/// This node's zone from its Node object's `topology.kubernetes.io/zone` label, as kube-proxy takes it, so zone
/// hints work on a DaemonSet whose nodes share one config.
@Suite struct NodeZoneTests {
    /// One Service whose three endpoints are hinted for zone-a, zone-b and zone-a.
    static func hintedService(_ server: StandInAPIServer) {
        server.apply(.services, StandInObjects.service("web", clusterIP: "10.96.3.1"))
        server.apply(
            .endpointSlices,
            StandInObjects.slice(
                "web-a",
                service: "web",
                addresses: ["10.1.3.1", "10.1.3.2", "10.1.3.3"],
                port: 8080,
                zones: ["zone-a", "zone-b", "zone-a"]
            )
        )
    }

    static let vip = tcp("10.96.3.1", 80)
    static let everyEndpoint = ["10.1.3.1:8080", "10.1.3.2:8080", "10.1.3.3:8080"]

    func nodeRequests(_ harness: SourceHarness) -> [StandInAPIServer.Request] {
        harness.server.requests.filter { $0.path.hasPrefix("/api/v1/nodes/") }
    }

    @Test func theZoneLabelOfThisNodeSelectsHintedEndpoints() async throws {
        let harness = try await SourceHarness.start(options: TranslationOptions(nodeName: "node-1")) { server in
            try server.setNode("node-1", labels: [APIPayloads.zoneLabel: "zone-a", "kubernetes.io/os": "linux"])
            try server.setNode("node-2", labels: [APIPayloads.zoneLabel: "zone-b"])
            Self.hintedService(server)
        }
        try await harness.wait("listed") { await harness.recorder.initialDeliveries == 1 }
        #expect(await harness.recorder.realServers(Self.vip) == ["10.1.3.1:8080", "10.1.3.3:8080"])
        #expect(nodeRequests(harness).map(\.path) == ["/api/v1/nodes/node-1"])
        await harness.stop()
    }

    /// A server failing (500) is retried, with the watchers' backoff; a 403 or 404 is not (the cases below ask
    /// once). The lists are asked for beside it and answered during the backoff, and their objects wait for the
    /// zone: no build sees the options without it.
    @Test func aFailingServerIsRetriedAndTheListsWaitForTheZone() async throws {
        let harness = try await SourceHarness.start(options: TranslationOptions(nodeName: "node-1")) { server in
            try server.setNode("node-1", labels: [APIPayloads.zoneLabel: "zone-a"])
            server.failNextNodeGets(2)
            Self.hintedService(server)
        }
        try await harness.wait("listed") { await harness.recorder.initialDeliveries == 1 }
        #expect(await harness.recorder.realServers(Self.vip) == ["10.1.3.1:8080", "10.1.3.3:8080"])
        #expect(nodeRequests(harness).count == 3)
        let requests = harness.server.requests
        let lastNodeGet = requests.lastIndex { $0.path.hasPrefix("/api/v1/nodes/") }
        let firstList = requests.firstIndex(where: \.isList)
        #expect(requests.filter(\.isList).count == 2)
        // Sent before the Node answered: the selection above came from objects that waited for it.
        #expect(firstList != nil && lastNodeGet != nil && firstList! < lastNodeGet!)
        await harness.stop()
    }

    @Test func aZoneInTheConfigIsKeptAndTheNodeIsNotAskedFor() async throws {
        let options = TranslationOptions(nodeName: "node-1", zone: "zone-b")
        let harness = try await SourceHarness.start(options: options) { server in
            try server.setNode("node-1", labels: [APIPayloads.zoneLabel: "zone-a"])
            Self.hintedService(server)
        }
        try await harness.wait("listed") { await harness.recorder.initialDeliveries == 1 }
        #expect(await harness.recorder.realServers(Self.vip) == ["10.1.3.2:8080"])
        #expect(nodeRequests(harness).isEmpty)
        await harness.stop()
    }

    /// A Node without the label, a Node the server does not have, and an identity that may not get Nodes (a
    /// ClusterRole from before this rule) all leave zone hints unused: every endpoint serves, as kube-proxy does
    /// for a node without a zone, and the Services are still programmed.
    @Test(arguments: ["no label", "no Node", "forbidden"])
    func withoutAZoneEveryEndpointServes(_ case: String) async throws {
        let harness = try await SourceHarness.start(options: TranslationOptions(nodeName: "node-1")) { server in
            switch `case` {
            case "no label": try server.setNode("node-1", labels: ["kubernetes.io/os": "linux"])
            case "forbidden":
                try server.setNode("node-1", labels: [APIPayloads.zoneLabel: "zone-a"])
                server.forbidNodes()
            default: break
            }
            Self.hintedService(server)
        }
        try await harness.wait("listed") { await harness.recorder.initialDeliveries == 1 }
        #expect(await harness.recorder.realServers(Self.vip) == Self.everyEndpoint)
        #expect(nodeRequests(harness).count == 1)
        await harness.stop()
    }

    @Test func withoutANodeNameNoNodeIsAskedFor() async throws {
        let harness = try await SourceHarness.start { server in
            try server.setNode("node-1", labels: [APIPayloads.zoneLabel: "zone-a"])
            Self.hintedService(server)
        }
        try await harness.wait("listed") { await harness.recorder.initialDeliveries == 1 }
        #expect(await harness.recorder.realServers(Self.vip) == Self.everyEndpoint)
        #expect(nodeRequests(harness).isEmpty)
        await harness.stop()
    }

    @Test func theClientNamesWhatA403Needs() async throws {
        let server = try await StandInAPIServer(pki: try StandInPKI.make())
        server.forbidNodes()
        let client = try APIClient(connection: try KubeConfig.load(path: try server.writeKubeconfig()))
        do {
            _ = try await client.node(named: "node-1")
            Issue.record("a 403 was not an error")
        } catch {
            #expect(error.code == .forbidden)
            #expect("\(error)".contains("needs get on nodes"))
        }
        // A name that is not a DNS subdomain is escaped: it cannot reach another path.
        do {
            _ = try await client.node(named: "../namespaces")
            Issue.record("an unknown node was found")
        } catch {
            #expect("\(error)".contains("/api/v1/nodes/..%2Fnamespaces"))
        }
        #expect(server.requests.last?.path == "/api/v1/nodes/../namespaces")
        await client.shutdown()
        await server.shutdown()
    }

    /// `ipvsd check --kubeconfig` has no log to read: the Node it could not read is in its notes, not a problem
    /// (without a zone, every endpoint serves).
    @Test func listOnceNamesAnUnreadableNodeInItsNotes() async throws {
        let server = try await StandInAPIServer(pki: try StandInPKI.make())
        server.forbidNodes()
        Self.hintedService(server)
        let client = try APIClient(connection: try KubeConfig.load(path: try server.writeKubeconfig()))
        let source = KubernetesSource(
            client: client,
            options: TranslationOptions(nodeName: "node-1"),
            logger: Logger(label: "node-zone-tests") { _ in SwiftLogNoOpLogHandler() },
            metricsFactory: NOOPMetricsHandler.instance,
            deliver: { _, _ in }
        )
        let (state, problems, notes) = try await source.listOnce()
        #expect(problems.isEmpty, "\(problems)")
        #expect(
            notes.count == 1 && notes[0].hasPrefix("Node node-1: ") && notes[0].contains("get on nodes"),
            "\(notes)"
        )
        #expect(state.virtualServers[Self.vip]?.realServers.count == 3)
        await client.shutdown()
        await server.shutdown()
    }

    @Test func theZoneLabelIsReadStrictly() throws {
        func zone(_ json: String) throws(KubernetesAPIError) -> String? {
            try APIPayloads.nodeZone(ByteBuffer(string: json))
        }
        #expect(try zone(#"{"metadata":{"labels":{"topology.kubernetes.io/zone":"eu-1a"}}}"#) == "eu-1a")
        #expect(try zone(#"{"metadata":{"labels":{"topology.kubernetes.io/zone":""}}}"#) == nil)
        #expect(try zone(#"{"metadata":{"name":"n"}}"#) == nil)
        #expect(throws: KubernetesAPIError.self) { try zone(#"{"metadata":{"labels":{"#) }
        #expect(throws: KubernetesAPIError.self) {
            try zone(#"{"metadata":{"labels":{"topology.kubernetes.io/zone":7}}}"#)
        }
        #expect(throws: KubernetesAPIError.self) { try zone(#"["not a Node"]"#) }
        let long = String(repeating: "z", count: 64)
        #expect(throws: KubernetesAPIError.self) {
            try zone(#"{"metadata":{"labels":{"topology.kubernetes.io/zone":"\#(long)"}}}"#)
        }
    }
}
