import Foundation
import KubernetesStandIn
import TestSupport
import Testing

/// The real `ipvsd` watching a stand-in Kubernetes API server (TLS, token) programs the real kernel.
@Suite(.serialized, .enabled(if: AgentKernel.enabled, "needs root and a kernel with IPVS"))
struct AgentKubernetesAPITests {
    static let vip = "10.96.78.10"

    /// Lists, programs, balances; then one EndpointSlice change reaches the kernel as exactly its one
    /// operation, through the watch.
    @Test func watchesTheAPIAndAppliesOneSliceChangeAsItsOperations() async throws {
        let lab = try AgentLab()
        let server = try await StandInAPIServer(pki: try StandInPKI.make())
        server.requireToken("node-token")
        let kubeconfig = try server.writeKubeconfig(token: "node-token")
        let (be1, be2) = (lab.backends[0], lab.backends[1])
        server.apply(.services, StandInObjects.service("web", namespace: "lab", clusterIP: Self.vip))
        server.apply(
            .endpointSlices,
            StandInObjects.slice("web-1", service: "web", namespace: "lab", addresses: [be1.address], port: 8080)
        )
        try Self.startAgent(lab, watching: kubeconfig)
        try Self.expectProgrammed(lab, onlyServer: be1.address)
        #expect(try lab.requests("http://\(Self.vip)/", count: 2) == [be1.name: 2])
        let status = try lab.ipvsctl("agent", "status", "--socket", lab.socket, "--json")
        #expect(status.contains("endpointslices") && status.contains("watching"), "\(status)")

        let syncsBefore = lab.log.components(separatedBy: "msg=synced").count
        server.apply(
            .endpointSlices,
            StandInObjects.slice(
                "web-1",
                service: "web",
                namespace: "lab",
                addresses: [be1.address, be2.address],
                port: 8080
            )
        )
        let added = try lab.waitUntil(.seconds(20)) { try lab.rules().count == 3 }
        #expect(added, "the slice change did not reach the kernel: \((try? lab.rules()) ?? [])\n\(lab.log)")
        #expect(
            try lab.rules() == [
                "-A -t \(Self.vip):80 -s rr", "-a -t \(Self.vip):80 -r \(be1.address):8080 -m -w 1",
                "-a -t \(Self.vip):80 -r \(be2.address):8080 -m -w 1",
            ]
        )
        // Exactly its operation: one incremental sync of one operation, no list after the first.
        let syncs = lab.log.components(separatedBy: "\n").filter { $0.contains("msg=synced") }.suffix(
            from: syncsBefore - 1
        )
        #expect(
            syncs.count == 1 && syncs.allSatisfy { $0.contains("kind=incremental") && $0.contains("operations=1") },
            "\(syncs)"
        )
        #expect(server.requests.filter { $0.isList }.count == 2, "\(server.requests)")
        lab.stopAgent()
        await server.shutdown()
    }

    /// With a node name and no zone in its config, ipvsd takes its zone from its Node object's label: of a
    /// Service's endpoints hinted for zone-a and zone-b, only zone-a's reach the kernel and get traffic.
    @Test func takesItsZoneFromItsNodeAndProgramsOnlyThatZonesEndpoints() async throws {
        let lab = try AgentLab()
        let server = try await StandInAPIServer(pki: try StandInPKI.make())
        let kubeconfig = try server.writeKubeconfig()
        let (be1, be2) = (lab.backends[0], lab.backends[1])
        try server.setNode("node-1", labels: ["topology.kubernetes.io/zone": "zone-a"])
        server.apply(.services, StandInObjects.service("web", namespace: "lab", clusterIP: Self.vip))
        server.apply(
            .endpointSlices,
            StandInObjects.slice(
                "web-1",
                service: "web",
                namespace: "lab",
                addresses: [be1.address, be2.address],
                port: 8080,
                zones: ["zone-a", "zone-b"]
            )
        )
        try Self.startAgent(lab, watching: kubeconfig, nodeName: "node-1")
        try Self.expectProgrammed(lab, onlyServer: be1.address)
        #expect(try lab.requests("http://\(Self.vip)/", count: 4) == [be1.name: 4])
        #expect(lab.log.contains("zone from this node's Node object"), "\(lab.log)")
        #expect(server.requests.filter { $0.path.hasPrefix("/api/v1/nodes/") }.map(\.path) == ["/api/v1/nodes/node-1"])
        lab.stopAgent()
        await server.shutdown()
    }

    /// Starts ipvsd watching the stand-in through `kubeconfig`. It runs in this namespace, to reach the
    /// stand-in on 127.0.0.1, and programs the lab's; health probes would run from here, where the backends
    /// are unreachable, so they are off.
    static func startAgent(_ lab: AgentLab, watching kubeconfig: String, nodeName: String? = nil) throws {
        try """
        stateFile: \(lab.directory)/state.json
        interface: lab0
        metricsAddress: ""
        adminSocket: \(lab.socket)
        networkNamespace: /run/netns/\(lab.lbNamespace)
        \(nodeName.map { "nodeName: \($0)" } ?? "")
        health: {enabled: false}
        kubernetes: {kubeconfig: \(kubeconfig)}
        """.write(toFile: lab.configPath, atomically: true, encoding: .utf8)
        try lab.startAgent(inNamespace: false)
    }

    /// Waits until the kernel holds the Service, then expects it with exactly one real server, `address`.
    static func expectProgrammed(
        _ lab: AgentLab,
        onlyServer address: String,
        sourceLocation: SourceLocation = #_sourceLocation
    ) throws {
        let programmed = try lab.waitUntil(.seconds(30)) { try lab.rules().count == 2 }
        #expect(
            programmed,
            "ipvsd did not program the Service: \((try? lab.rules()) ?? [])\n\(lab.log)",
            sourceLocation: sourceLocation
        )
        #expect(
            try lab.rules() == ["-A -t \(vip):80 -s rr", "-a -t \(vip):80 -r \(address):8080 -m -w 1"],
            sourceLocation: sourceLocation
        )
    }
}
