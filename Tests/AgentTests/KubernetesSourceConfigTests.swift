import Agent
import Foundation
import KubernetesManifests
import KubernetesStandIn
import TestSupport
import Testing

/// The `kubernetes:` config section and `ipvsd check --kubeconfig` against the stand-in API server.
@Suite struct KubernetesSourceConfigTests {
    @Test func sectionIsRead() throws {
        let config = try AgentConfiguration.parse(
            "kubernetes:\n  kubeconfig: /etc/ipvsd/kubeconfig\n  context: prod\n  serviceProxyName: ipvsd\n",
            file: "ipvsd.yaml"
        )
        #expect(config.kubernetes.kubeconfig == "/etc/ipvsd/kubeconfig")
        #expect(config.kubernetes.context == "prod")
        #expect(config.kubernetes.serviceProxyName == "ipvsd")
        #expect(config.kubernetes.enabled && !config.kubernetes.inCluster)
        #expect(!AgentConfiguration().kubernetes.enabled)
    }

    /// `kubernetes.nodeName` (issue 11's spelling) is the top-level `nodeName`.
    @Test func nodeNameMayBeSpelledInTheSection() throws {
        let config = try AgentConfiguration.parse("kubernetes:\n  inCluster: true\n  nodeName: node-a\n", file: "x")
        #expect(config.nodeName == "node-a")
        let same = try AgentConfiguration.parse("nodeName: node-a\nkubernetes:\n  nodeName: node-a\n", file: "x")
        #expect(same.nodeName == "node-a")
    }

    @Test(arguments: [
        ("kubernetes:\n  kubeconfg: /x\n", "ipvsd.yaml:2: kubernetes.kubeconfg: unknown field"),
        (
            "kubernetes:\n  kubeconfig: /x\n  inCluster: true\n",
            "ipvsd.yaml:3: kubernetes.inCluster: cannot be true together with kubeconfig; choose one"
        ),
        ("kubernetes:\n  inCluster: yes please\n", "ipvsd.yaml:2: kubernetes.inCluster: must be true or false"),
        (
            "nodeName: node-a\nkubernetes:\n  nodeName: node-b\n",
            "ipvsd.yaml:3: kubernetes.nodeName: differs from nodeName \"node-a\"; set one of them"
        ),
        ("kubernetes:\n  nodeName: Node_A\n", "ipvsd.yaml:2: kubernetes.nodeName: "),
    ])
    func mistakesAreLocated(text: String, expected: String) throws {
        do {
            _ = try AgentConfiguration.parse(text, file: "ipvsd.yaml")
            Issue.record("accepted: \(text)")
        } catch {
            #expect(error.description.contains(expected), "\(error.description)")
        }
    }

    @Test func checkListsOnceAndPrintsWhatRunWouldProgram() async throws {
        let server = try await StandInAPIServer(pki: try StandInPKI.make())
        server.requireToken("check-token")
        server.apply(.services, StandInObjects.service("web", clusterIP: "10.96.10.1"))
        server.apply(
            .services,
            StandInObjects.service(
                "theirs",
                clusterIP: "10.96.10.2",
                labels: ["service.kubernetes.io/service-proxy-name": "other-proxy"]
            )
        )
        server.apply(
            .endpointSlices,
            StandInObjects.slice("web-1", service: "web", addresses: ["10.10.0.1"], port: 8080)
        )
        try server.setNode("node-1", labels: ["topology.kubernetes.io/zone": "zone-a"])
        let kubeconfig = try server.writeKubeconfig(token: "check-token")
        let ipvsd = ChildProcess.builtProduct("ipvsd")
        let result = try ChildProcess.run(ipvsd, ["check", "--kubeconfig", kubeconfig, "--node-name", "node-1"])
        #expect(result.status == 0, "\(result)")
        #expect(
            result.stdout == """
                note: zone zone-a, from the topology.kubernetes.io/zone label of Node node-1
                10.96.10.1:80/tcp rr  default/web  health tcp
                  -> 10.10.0.1:8080 weight 1 ready,serving

                """,
            "\(result)"
        )
        #expect(server.requests.filter(\.isList).count == 2)
        #expect(server.requests.allSatisfy { !$0.isWatch })

        server.forbid(.endpointSlices)
        let forbidden = try ChildProcess.run(ipvsd, ["check", "--kubeconfig", kubeconfig])
        #expect(forbidden.status == 1, "\(forbidden)")
        #expect(forbidden.stdout.contains("answered 403"), "\(forbidden)")
        #expect(forbidden.stdout.contains("needs list and watch on endpointslices"), "\(forbidden)")
        await server.shutdown()
    }
}
