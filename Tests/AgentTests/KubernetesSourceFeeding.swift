import Agent
import KubernetesAPI
import KubernetesManifests
import Logging
import Metrics

extension KubernetesSource {
    /// A source reading the stand-in `kubeconfig` names and feeding `agent`, as `ipvsd run` wires them.
    static func feeding(_ agent: Agent, kubeconfig: String, limits: APILimits = APILimits()) throws -> KubernetesSource
    {
        KubernetesSource(
            client: try APIClient(connection: try KubeConfig.load(path: kubeconfig), limits: limits),
            options: TranslationOptions(),
            logger: Logger(label: "agent-tests") { _ in SwiftLogNoOpLogHandler() },
            metricsFactory: NOOPMetricsHandler.instance,
            deliver: { changes, initial in await agent.applyKubernetesChanges(changes, initial: initial) }
        )
    }
}
