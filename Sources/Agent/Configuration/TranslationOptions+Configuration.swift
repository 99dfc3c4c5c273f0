import KubernetesManifests
import YAMLSyntax

extension TranslationOptions {
    /// The manifest translation the configuration asks for.
    /// - Throws: ``AgentError`` for a service CIDR that does not parse.
    init(_ configuration: AgentConfiguration) throws(AgentError) {
        var networks: [IPNetwork] = []
        for text in configuration.serviceCIDRs {
            guard let network = IPNetwork(text) else {
                throw AgentError(.configuration, "serviceCIDRs: \"\(text)\" is not a CIDR")
            }
            networks.append(network)
        }
        self.init(
            defaultScheduler: configuration.scheduler,
            defaultHealthCheck: configuration.health.enabled ? configuration.health.spec : nil,
            defaultAllDownPolicy: configuration.health.allDownPolicy,
            serviceCIDRs: networks,
            defaultWeight: configuration.weight,
            nodeName: configuration.nodeName,
            zone: configuration.zone
        )
    }
}
