extension AgentConfiguration {
    /// Settles `nodeName`: `--node-name` wins, then the config's `nodeName`, then the NODE_NAME environment
    /// variable (a DaemonSet sets it from `spec.nodeName`), then the host name lowercased, as kube-proxy
    /// defaults --hostname-override. A host name that is not a valid node name leaves it empty: no endpoint
    /// is then local.
    /// - Throws: ``AgentError`` for a flag or NODE_NAME value that is not a node name.
    public mutating func resolveNodeName(
        flag: String?,
        environment: [String: String],
        hostName: String?
    ) throws(AgentError) {
        if let flag {
            if let problem = ConfigurationRules.nodeNameProblem(flag) {
                throw AgentError(.configuration, "--node-name: \(problem)")
            }
            nodeName = flag
            return
        }
        guard nodeName.isEmpty else { return }
        if let value = environment["NODE_NAME"], !value.isEmpty {
            if let problem = ConfigurationRules.nodeNameProblem(value) {
                throw AgentError(.configuration, "NODE_NAME: \(problem)")
            }
            nodeName = value
            return
        }
        if let host = hostName?.lowercased(), ConfigurationRules.nodeNameProblem(host) == nil { nodeName = host }
    }
}
