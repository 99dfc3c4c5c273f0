import Agent
import KubernetesAPI
import KubernetesManifests
import KubernetesStandIn
import Logging
import Metrics

extension AgentSandbox {
    /// A sandbox (no example manifests) whose config watches `server` through a kubeconfig written for it.
    convenience init(watching server: StandInAPIServer) throws {
        try self.init(examples: false)
        configuration.kubernetes.kubeconfig = try server.writeKubeconfig()
    }

    /// A source reading this sandbox's kubeconfig and feeding `agent`, as `ipvsd run` wires them.
    func source(feeding agent: Agent, limits: APILimits = APILimits()) throws -> KubernetesSource {
        KubernetesSource(
            client: try APIClient(
                connection: try KubeConfig.load(path: configuration.kubernetes.kubeconfig),
                limits: limits
            ),
            options: TranslationOptions(),
            logger: Logger(label: "agent-tests") { _ in SwiftLogNoOpLogHandler() },
            metricsFactory: NOOPMetricsHandler.instance,
            deliver: { changes, initial in await agent.applyKubernetesChanges(changes, initial: initial) }
        )
    }
}
