import YAMLSyntax

/// The `kubernetes:` section: watch the API instead of reading manifest files.
public struct KubernetesSettings: Sendable, Equatable {
    /// A kubeconfig file (`--kubeconfig`); empty when not used.
    public var kubeconfig: String = ""
    /// The kubeconfig context; empty: its current-context.
    public var context: String = ""
    /// Use the Pod's service account (KUBERNETES_SERVICE_HOST/PORT, token and CA files).
    public var inCluster: Bool = false
    /// The `service.kubernetes.io/service-proxy-name` this agent claims; empty: Services with that label
    /// belong to other proxies and are skipped, as kube-proxy skips them.
    public var serviceProxyName: String = ""

    /// Whether desired state comes from the API (manifest files are then not read).
    public var enabled: Bool { !kubeconfig.isEmpty || inCluster }

    public init() {}
}

extension AgentConfiguration {
    /// Parses the `kubernetes:` section.
    static func parseKubernetes(_ node: LocatedYAML, into config: inout AgentConfiguration) -> [LocatedError] {
        var errors = node.unknownKeys(allowed: ["kubeconfig", "context", "inCluster", "serviceProxyName", "nodeName"])
        let strings: [(String, WritableKeyPath<KubernetesSettings, String>)] = [
            ("kubeconfig", \.kubeconfig), ("context", \.context), ("serviceProxyName", \.serviceProxyName),
        ]
        for (key, keyPath) in strings {
            do throws(LocatedError) {
                if let value = try node.string(key) { config.kubernetes[keyPath: keyPath] = value }
            } catch {
                errors.append(error)
            }
        }
        do throws(LocatedError) {
            if let value = try node.bool("inCluster") { config.kubernetes.inCluster = value }
        } catch {
            errors.append(error)
        }
        // kubernetes.nodeName is another spelling of the top-level nodeName (one setting, one place).
        do throws(LocatedError) {
            if let name = try node.string("nodeName"), let item = node["nodeName"] {
                if let problem = ConfigurationRules.nodeNameProblem(name) {
                    throw item.error(problem)
                } else if !config.nodeName.isEmpty, config.nodeName != name {
                    throw item.error("differs from nodeName \"\(config.nodeName)\"; set one of them")
                }
                config.nodeName = name
            }
        } catch {
            errors.append(error)
        }
        if config.kubernetes.inCluster && !config.kubernetes.kubeconfig.isEmpty, let inCluster = node["inCluster"] {
            errors.append(inCluster.error("cannot be true together with kubeconfig; choose one"))
        }
        return errors
    }
}
