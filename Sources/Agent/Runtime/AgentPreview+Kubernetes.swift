import KubernetesAPI
import KubernetesManifests
import KubernetesWire
import Logging
import Metrics
import ServiceTables

extension AgentPreview {
    /// The desired state the API describes now: one list of each resource, built as `run` builds it
    /// (`ipvsd check --kubeconfig`).
    /// - Returns: the state; the problems found (objects rejected, Services whose virtual servers cannot be
    ///   built), for which `run` would keep the last good state; and notes (the zone from the Node's label).
    /// - Throws: ``AgentError`` when the API cannot be reached or read, or the state would capture the
    ///   agent's own listener (``ManifestErrors``).
    public static func desiredStateFromAPI(
        _ configuration: AgentConfiguration
    ) async throws -> (state: DesiredState, problems: [String], notes: [String]) {
        let client = try AgentRunner.apiClient(configuration.kubernetes)
        let proxyName = configuration.kubernetes.serviceProxyName
        let source = KubernetesSource(
            client: client,
            options: try TranslationOptions(configuration),
            proxyName: proxyName.isEmpty ? nil : proxyName,
            logger: Logger(label: "ipvsd-check", factory: { _ in SwiftLogNoOpLogHandler() }),
            metricsFactory: NOOPMetricsHandler.instance,
            deliver: { _, _ in }
        )
        let result: Result<(state: DesiredState, problems: [String], notes: [String]), KubernetesAPIError>
        do throws(KubernetesAPIError) {
            result = .success(try await source.listOnce())
        } catch {
            result = .failure(error)
        }
        await client.shutdown()
        let listed: (state: DesiredState, problems: [String], notes: [String])
        switch result {
        case .success(let value): listed = value
        case .failure(let error): throw AgentError(.kubernetes, "Kubernetes API", cause: error)
        }
        try DesiredStateLoad.refuseReserved(listed.state, configuration: configuration)
        return listed
    }
}
