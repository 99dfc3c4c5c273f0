import Foundation
import TestSupport
import Testing

/// Traffic policies, topology hints, node ports and healthCheckNodePort on the real kernel, in one agent
/// run. The lab's load-balancer namespace is the node "n1" in zone "z1": backend 0 runs there, backend 1 on
/// "n2"; backend 1's namespace doubles as a client outside the node.
@Suite(.serialized, .enabled(if: AgentKernel.enabled, "needs root and a kernel with IPVS"))
struct AgentNodeSemanticsTests {
    /// A Service and its slice; `endpoints` are (backend index, node, zone hint or nil).
    static func service(
        _ name: String,
        clusterIP: String,
        spec: String,
        endpoints: [(Int, String, String?)],
        lab: AgentLab
    ) -> String {
        var text = """
            apiVersion: v1
            kind: Service
            metadata: {name: \(name), namespace: lab, annotations: {ipvsd.io/health-check: none}}
            spec:
              clusterIP: \(clusterIP)
            \(spec)
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: \(name)-1, namespace: lab, labels: {kubernetes.io/service-name: \(name)}}
            addressType: IPv4
            ports: [{name: http, port: 8080}]
            endpoints:

            """
        for (index, node, zone) in endpoints {
            let hints = zone.map { ", hints: {forZones: [{name: \($0)}]}" } ?? ""
            text += "- {addresses: [\(lab.backends[index].address)], nodeName: \(node)\(hints)}\n"
        }
        return text + "---\n"
    }

    @Test func policiesTopologyNodePortsAndHealthCheckNodePort() throws {
        let lab = try AgentLab(backends: 2)
        let (be0, be1) = (lab.backends[0], lab.backends[1])
        // A node forwards (pods need it): replies to clients outside the node pass IPVS in FORWARD.
        _ = try lab.inLB("sysctl -qw net.ipv4.ip_forward=1")
        let node = "10.250.1.1"
        try lab.writeConfig(
            healthInterval: "500ms",
            extra: "nodeName: n1\nzone: z1\nnodePortAddresses: [\(node)/32]"
        )
        let ports = "  ports: [{name: http, port: 80, targetPort: 8080, nodePort: NODEPORT}]"
        let manifests = [
            Self.service(
                "local",
                clusterIP: "10.96.79.10",
                spec: """
                      type: LoadBalancer
                      internalTrafficPolicy: Local
                      externalTrafficPolicy: Local
                      healthCheckNodePort: 30999
                    \(ports.replacingOccurrences(of: "NODEPORT", with: "30080"))
                    """,
                endpoints: [(0, "n1", nil), (1, "n2", nil)],
                lab: lab
            ),
            Self.service(
                "cluster",
                clusterIP: "10.96.79.11",
                spec: "  type: NodePort\n" + ports.replacingOccurrences(of: "NODEPORT", with: "30081"),
                endpoints: [(0, "n1", nil)],
                lab: lab
            ),
            Self.service(
                "remote",
                clusterIP: "10.96.79.12",
                spec: """
                      type: LoadBalancer
                      externalTrafficPolicy: Local
                      healthCheckNodePort: 30998
                    \(ports.replacingOccurrences(of: "NODEPORT", with: "30082"))
                    """,
                endpoints: [(1, "n2", nil)],
                lab: lab
            ),
            Self.service(
                "zoned",
                clusterIP: "10.96.79.13",
                spec: "  ports: [{name: http, port: 80, targetPort: 8080}]",
                endpoints: [(0, "n1", "z2"), (1, "n2", "z1")],
                lab: lab
            ),
        ]
        try lab.writeManifest("services.yaml", manifests.joined())
        try lab.startAgent()
        let expected = [
            "-A -t 10.250.1.1:30080 -s rr", "-A -t 10.250.1.1:30081 -s rr", "-A -t 10.250.1.1:30082 -s rr",
            "-A -t 10.96.79.10:80 -s rr", "-A -t 10.96.79.11:80 -s rr", "-A -t 10.96.79.12:80 -s rr",
            "-A -t 10.96.79.13:80 -s rr",
            // Local: only n1's endpoint, for the cluster IP and the node port; none for "remote".
            "-a -t 10.250.1.1:30080 -r \(be0.address):8080 -m -w 1",
            "-a -t 10.250.1.1:30081 -r \(be0.address):8080 -m -w 1",
            "-a -t 10.96.79.10:80 -r \(be0.address):8080 -m -w 1",
            "-a -t 10.96.79.11:80 -r \(be0.address):8080 -m -w 1",
            // "remote" uses internalTrafficPolicy Cluster for its cluster IP.
            "-a -t 10.96.79.12:80 -r \(be1.address):8080 -m -w 1",
            // Zone hints: only the endpoint hinted for z1.
            "-a -t 10.96.79.13:80 -r \(be1.address):8080 -m -w 1",
        ].sorted()
        let programmed = try lab.waitUntil(.seconds(30)) { try lab.rules() == expected }
        #expect(programmed, "\((try? lab.rules()).map { "\($0)" } ?? "")\n\(lab.log)")
        // The node address is the host's own: never bound on the agent's interface.
        #expect(try !lab.localRoutes().contains(node) && !lab.addresses().contains(node))
        #expect(try lab.localRoutes().contains("local 10.96.79.10 "), "\((try? lab.localRoutes()) ?? "")")

        func whoami(_ url: String) throws -> String {
            try AgentLab.run([
                "ip", "netns", "exec", be1.name, "bash", "-c", "curl -s --max-time 2 \(url) || echo failed",
            ]).trimmingCharacters(in: .whitespacesAndNewlines)
        }
        // externalTrafficPolicy Local keeps the outside client's address; Cluster masquerades it to the
        // node's address on the backend's side.
        // (busybox httpd listens on IPv6 and reports IPv4 clients as mapped addresses.)
        let local = try whoami("http://\(node):30080/cgi-bin/whoami")
        #expect(local == "[::ffff:\(be1.address)]")
        let cluster = try whoami("http://\(node):30081/cgi-bin/whoami")
        #expect(cluster == "[::ffff:\(node)]")
        // No local endpoint: the node port drops the traffic.
        #expect(try whoami("http://\(node):30082/") == "failed")

        // healthCheckNodePort, as kube-proxy answers it.
        let healthy = try lab.inLB("curl -s -i --max-time 5 http://\(node):30999/any/path")
        #expect(healthy.hasPrefix("HTTP/1.1 200"), "\(healthy)")
        #expect(healthy.contains("X-Load-Balancing-Endpoint-Weight: 1"), "\(healthy)")
        #expect(
            healthy.contains(
                #"{"service":{"namespace":"lab","name":"local"},"localEndpoints":1,"serviceProxyHealthy":true}"#
            ),
            "\(healthy)"
        )
        let unhealthy = try lab.inLB("curl -s -i --max-time 5 http://\(node):30998/")
        #expect(unhealthy.hasPrefix("HTTP/1.1 503") && unhealthy.contains(#""localEndpoints":0"#), "\(unhealthy)")
        lab.stopAgent()
    }
}
