import Agent
import Foundation
import KubernetesManifests
import TestSupport
import Testing
import Yams

/// The documents of deploy/kubernetes/ipvsd.yaml, by kind (each kind appears once).
private func deployDocuments() throws -> [String: Node] {
    let text = try RepositoryFiles.text("deploy/kubernetes/ipvsd.yaml")
    var documents: [String: Node] = [:]
    for document in try Yams.compose_all(yaml: text) {
        let kind = try #require(document["kind"]?.string, "a document without kind")
        #expect(documents[kind] == nil, "two \(kind) documents")
        documents[kind] = document
    }
    return documents
}

private func strings(_ node: Node?) -> [String] { node?.sequence?.compactMap(\.string) ?? [] }

/// The lines of a file that are neither comments nor blank.
private func settings(_ text: String) -> [String] {
    text.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        .filter { !$0.isEmpty && !$0.hasPrefix("#") }
}

private struct Deployment {
    let documents: [String: Node]
    let podSpec: Node
    let ipvsd: Node
    let config: AgentConfiguration

    init() throws {
        documents = try deployDocuments()
        let spec = try #require(documents["DaemonSet"]?["spec"]?["template"]?["spec"])
        podSpec = spec
        ipvsd = try #require(spec["containers"]?.sequence?.first { $0["name"]?.string == "ipvsd" })
        let text = try #require(documents["ConfigMap"]?["data"]?["config.yaml"]?.string)
        config = try AgentConfiguration.parse(text, file: "ipvsd.yaml ConfigMap config.yaml")
    }

    func container(_ name: String, in list: String) -> Node? {
        podSpec[list]?.sequence?.first { $0["name"]?.string == name }
    }

    /// The mount path of `volume` in `container`.
    func mountPath(_ volume: String, in container: Node) -> String? {
        container["volumeMounts"]?.sequence?.first { $0["name"]?.string == volume }?["mountPath"]?.string
    }

    func volume(_ name: String) -> Node? { podSpec["volumes"]?.sequence?.first { $0["name"]?.string == name } }
}

@Suite struct KubernetesDeployTests {
    @Test func manifestHoldsTheNamespacedObjectsAndReadOnlyRBAC() throws {
        let documents = try deployDocuments()
        #expect(
            Set(documents.keys) == [
                "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "ConfigMap", "DaemonSet",
            ]
        )
        for kind in ["ServiceAccount", "ConfigMap", "DaemonSet"] {
            #expect(documents[kind]?["metadata"]?["namespace"]?.string == "ipvsd", "\(kind) namespace")
        }
        let rules = try #require(documents["ClusterRole"]?["rules"]?.sequence)
        let granted = rules.map { rule in
            "\(strings(rule["apiGroups"])) \(strings(rule["resources"])) \(strings(rule["verbs"]))"
        }
        #expect(
            granted == [
                #"[""] ["services"] ["list", "watch"]"#,
                #"["discovery.k8s.io"] ["endpointslices"] ["list", "watch"]"#,
                #"[""] ["nodes"] ["get"]"#,
            ]
        )
        let subject = try #require(documents["ClusterRoleBinding"]?["subjects"]?.sequence?.first)
        #expect(subject["name"]?.string == "ipvsd" && subject["namespace"]?.string == "ipvsd")
    }

    @Test func configMapConfigParsesAndPointsIntoTheMountedVolumes() throws {
        let deployment = try Deployment()
        let config = deployment.config
        #expect(!config.manageSysctls)
        #expect(config.serviceCIDRs == ["10.96.0.0/12"])
        // ipvsd runs the config the ConfigMap holds.
        #expect(strings(deployment.ipvsd["command"]) == ["ipvsd", "run", "--config", "/etc/ipvsd/config.yaml"])
        #expect(deployment.mountPath("config", in: deployment.ipvsd) == "/etc/ipvsd")
        // State and admin socket on host paths, so they outlive the pod and ipvsctl finds the socket.
        #expect(deployment.mountPath("state", in: deployment.ipvsd) == "/var/lib/ipvsd")
        #expect(config.stateFile == "/var/lib/ipvsd/state.json")
        #expect(deployment.volume("state")?["hostPath"]?["path"]?.string == "/var/lib/ipvsd")
        #expect(config.adminSocket == "/run/ipvsd/admin.sock")
        #expect(deployment.volume("run")?["hostPath"]?["path"]?.string == "/run/ipvsd")
        #expect(deployment.mountPath("run", in: deployment.ipvsd) == "/run/ipvsd")
    }

    @Test func ipvsdWatchesTheAPIAtItsRealAddressWithNoSidecar() throws {
        let deployment = try Deployment()
        #expect(deployment.config.kubernetes.inCluster)
        #expect(deployment.config.kubernetes.enabled)
        let containers = try #require(deployment.podSpec["containers"]?.sequence)
        #expect(containers.compactMap { $0["name"]?.string } == ["ipvsd"])
        let env = try #require(deployment.ipvsd["env"]?.sequence)
        func variable(_ name: String) -> Node? { env.first { $0["name"]?.string == name } }
        // Not the `kubernetes` Service's ClusterIP, which ipvsd itself provides.
        #expect(variable("KUBERNETES_SERVICE_HOST")?["value"]?.string == "REPLACE-WITH-API-SERVER-IP")
        #expect(variable("KUBERNETES_SERVICE_PORT")?["value"]?.string == "6443")
        #expect(variable("NODE_NAME")?["valueFrom"]?["fieldRef"]?["fieldPath"]?.string == "spec.nodeName")
        #expect(deployment.podSpec["automountServiceAccountToken"]?.bool != false)
    }

    @Test func daemonSetRunsOnTheHostNetworkWithNetAdminOnly() throws {
        let deployment = try Deployment()
        let spec = deployment.podSpec
        #expect(spec["hostNetwork"]?.bool == true)
        #expect(spec["dnsPolicy"]?.string == "ClusterFirstWithHostNet")
        #expect(spec["priorityClassName"]?.string == "system-node-critical")
        #expect(spec["serviceAccountName"]?.string == "ipvsd")
        // One toleration with operator Exists and no key tolerates every taint.
        let tolerations = try #require(spec["tolerations"]?.sequence)
        #expect(tolerations.count == 1 && tolerations.first?["operator"]?.string == "Exists")
        #expect(tolerations.first?["key"] == nil)
        let security = try #require(deployment.ipvsd["securityContext"])
        #expect(strings(security["capabilities"]?["add"]) == ["NET_ADMIN"])
        #expect(strings(security["capabilities"]?["drop"]) == ["ALL"])
        #expect(security["privileged"]?.bool != true)
        let limit = try #require(deployment.ipvsd["resources"]?["limits"]?["memory"]?.string)
        #expect(limit.hasSuffix("Mi") && (Int(limit.dropLast(2)) ?? 0) >= 64)
    }

    @Test func probesUseTheMetricsPortAndIpvsdsEndpoints() throws {
        let deployment = try Deployment()
        let port = try #require(deployment.config.metricsAddress.split(separator: ":").last.flatMap { Int($0) })
        // The paths MetricsServer routes; a renamed endpoint fails here rather than on a cluster.
        let server = try RepositoryFiles.text("Sources/Agent/Admin/AdminServer.swift")
        for (probe, path) in [("livenessProbe", "/healthz"), ("readinessProbe", "/readyz")] {
            let get = try #require(deployment.ipvsd[probe]?["httpGet"], "\(probe) is not httpGet")
            #expect(get["path"]?.string == path, "\(probe) path")
            #expect(get["port"]?.int == port, "\(probe) port")
            #expect(get["host"] == nil, "\(probe) host: the kubelet must reach the node IP ipvsd listens on")
            #expect(server.contains("router.get(\"\(path)\")"))
        }
        // The kubelet probes the pod IP, which is the node's IP under hostNetwork, not loopback.
        #expect(deployment.config.metricsAddress.hasPrefix("0.0.0.0:"))
    }

    @Test func hostSetupMatchesTheSystemdFiles() throws {
        let deployment = try Deployment()
        let data = try #require(deployment.documents["ConfigMap"]?["data"])
        let sysctls = try #require(data["sysctl.conf"]?.string)
        #expect(settings(sysctls) == settings(try RepositoryFiles.text("deploy/sysctl.d/90-ipvsd.conf")))
        let modules = try #require(data["modules.conf"]?.string)
        #expect(settings(modules) == settings(try RepositoryFiles.text("deploy/modules-load.d/ipvsd.conf")))
        let initContainer = try #require(deployment.container("ipvsd-host", in: "initContainers"))
        #expect(deployment.mountPath("lib-modules", in: initContainer) == "/lib/modules")
        let readOnly = initContainer["volumeMounts"]?.sequence?.first { $0["name"]?.string == "lib-modules" }
        #expect(readOnly?["readOnly"]?.bool == true)
        #expect(deployment.mountPath("config", in: initContainer) == "/etc/ipvsd")
        let script = try #require(initContainer["command"]?.sequence?.last?.string)
        #expect(script.contains("/etc/ipvsd/modules.conf") && script.contains("/etc/ipvsd/sysctl.conf"))
    }
}
