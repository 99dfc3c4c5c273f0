import KubernetesAPI
import KubernetesManifests
import KubernetesWire
import Logging
import ServiceLifecycle

/// The Kubernetes API source, feeding the agent, as one of the agent's services. It is started before the
/// service group (``started(_:)``) so that its first lists overlap the host's preparation; the group's
/// graceful shutdown, or ``stop()`` when the agent fails before the group runs, ends it.
struct KubernetesSourceService: ServiceLifecycle.Service {
    let source: KubernetesSource
    private let running: Task<Void, Never>

    /// Starts `source` listing and watching now.
    static func started(_ source: KubernetesSource) -> KubernetesSourceService {
        KubernetesSourceService(source: source, running: Task { await source.run() })
    }

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withTaskCancellationHandler {
                await running.value
            } onCancel: {
                running.cancel()
            }
        }
        await source.client.shutdown()
    }

    /// Ends the source and closes its connections (the agent stopped before its service group ran).
    func stop() async {
        running.cancel()
        await running.value
        await source.client.shutdown()
    }
}

extension AgentRunner {
    /// The connection `settings` describe: a kubeconfig or the Pod's service account.
    /// - Throws: ``AgentError`` naming the file, field or variable at fault.
    public static func apiClient(_ settings: KubernetesSettings) throws(AgentError) -> APIClient {
        do throws(KubernetesAPIError) {
            let connection =
                settings.inCluster
                ? try APIConnection.inCluster()
                : try KubeConfig.load(
                    path: settings.kubeconfig,
                    context: settings.context.isEmpty ? nil : settings.context
                )
            return try APIClient(connection: connection)
        } catch {
            throw AgentError(.kubernetes, "Kubernetes API", cause: error)
        }
    }

    /// The API source for `agent`, which receives its deltas and shows its status.
    static func kubernetesSource(
        agent: Agent,
        configuration: AgentConfiguration,
        metrics: AgentMetrics,
        logger: Logger
    ) async throws(AgentError) -> KubernetesSource {
        let client = try apiClient(configuration.kubernetes)
        var sourceLogger = logger
        sourceLogger[metadataKey: "component"] = "kubernetes"
        let source = KubernetesSource(
            client: client,
            options: agent.translation,  // with the node-port addresses read at start
            proxyName: configuration.kubernetes.serviceProxyName.isEmpty
                ? nil : configuration.kubernetes.serviceProxyName,
            logger: sourceLogger,
            metricsFactory: metrics.factory,
            healthCheckNodePorts: { answers in await agent.setKubernetesHealthCheckNodePorts(answers) },
            deliver: { changes, initial in await agent.applyKubernetesChanges(changes, initial: initial) }
        )
        agent.setKubernetesStatusSource { source.statuses }
        await agent.setKubernetesNamesSource { await source.names(ifNewerThan: $0) }
        logger.info("desired state from the Kubernetes API", metadata: ["server": "\(client.connection.server)"])
        return source
    }
}
