import HealthCheck
import IPVS
import Logging
import NIOPosix
import ServiceLifecycle
import ServiceTables
import UnixSignals

/// Builds the agent from its configuration and runs its loops under one service group until SIGTERM or
/// SIGINT. On shutdown the kernel's tables are left as they are, so traffic keeps flowing while the
/// agent is down; `ipvsd cleanup` removes what it owns.
public enum AgentRunner {
    /// Opens the kernel and the host network as the configuration says.
    public static func openKernel(
        _ configuration: AgentConfiguration
    ) throws(AgentError) -> (
        IPVSClient, HostNetwork
    ) {
        let namespace: NetworkNamespace =
            configuration.networkNamespace.isEmpty ? .current : .path(configuration.networkNamespace)
        do throws(IPVSError) {
            let client = try IPVSClient(configuration: IPVSClient.Configuration(namespace: namespace))
            _ = try client.info()
            return (client, try HostNetwork(namespace: namespace))
        } catch {
            throw AgentError(
                .kernel,
                "cannot open IPVS (is the ip_vs module loaded? ipvsd needs CAP_NET_ADMIN)",
                cause: error
            )
        }
    }

    /// The agent's nftables table, in the configured network namespace.
    public static func packetFilter(_ configuration: AgentConfiguration) -> Nftables {
        Nftables(namespace: configuration.networkNamespace.isEmpty ? .current : .path(configuration.networkNamespace))
    }

    /// Prepares the host (dummy interface, sysctls) and runs until shutdown.
    /// - Parameter budget: the descriptor budget; established here (raising RLIMIT_NOFILE) when nil.
    /// - Throws: ``AgentError`` when the descriptor limit, the kernel, the host network or a listener's
    ///   address is unusable.
    public static func run(
        configuration: AgentConfiguration,
        budget: ResourceBudget? = nil,
        metrics: AgentMetrics,
        logger: Logger
    ) async throws {
        let budget = try budget ?? ResourceBudget.establish(for: configuration)
        if let warning = budget.clampWarning { logger.warning("\(warning)") }
        let (client, network) = try openKernel(configuration)
        let nodeAddresses = try NodePortAddresses.resolve(configuration, network: network)
        logger.info("node port addresses", metadata: ["addresses": "\(nodeAddresses.map(\.description))"])
        // The binder is prepared below; the agent does not touch it before its first sync, which the service
        // group starts after the host is prepared.
        let binder: (any AddressBinder)? =
            configuration.bindAddresses
            ? DummyInterfaceBinder(network: network, interface: configuration.interface) : nil
        let agent = try Agent(
            configuration: configuration,
            kernel: client,
            binder: binder,
            packetFilter: packetFilter(configuration),
            nodePortAddresses: nodeAddresses,
            logger: logger,
            metrics: metrics
        )
        // The API source starts listing now, while the host is prepared and the listeners start: the lists
        // are most of the time to ready, and nothing of them reaches the kernel before the sync loop runs.
        var source: KubernetesSourceService?
        if configuration.kubernetes.enabled {
            source = .started(
                try await kubernetesSource(agent: agent, configuration: configuration, metrics: metrics, logger: logger)
            )
        }
        do {
            try await run(
                agent: agent,
                source: source,
                network: network,
                binder: binder,
                configuration: configuration,
                budget: budget,
                metrics: metrics,
                logger: logger
            )
        } catch {
            await source?.stop()
            throw error
        }
    }

    /// Prepares the host and runs the agent's services until shutdown; `source`, already listing, is one.
    private static func run(
        agent: Agent,
        source: KubernetesSourceService?,
        network: HostNetwork,
        binder: (any AddressBinder)?,
        configuration: AgentConfiguration,
        budget: ResourceBudget,
        metrics: AgentMetrics,
        logger: Logger
    ) async throws {
        do throws(IPVSError) {
            if configuration.manageSysctls {
                try network.apply(configuration.sysctls)
                logger.info(
                    "sysctls set",
                    metadata: ["sysctls": "\(configuration.sysctls.settings.map { "\($0.name)=\($0.value)" })"]
                )
            }
            try binder?.prepare()
        } catch {
            throw AgentError(.hostNetwork, "preparing the host network", cause: error)
        }
        let healthCheckNodePorts = HealthCheckNodePorts(logger: logger)
        await agent.setHealthCheckNodePorts(healthCheckNodePorts)
        var services: [any Service] = [
            SyncLoop(agent: agent),
            HealthCheckNodePortService(listeners: healthCheckNodePorts),
            ReloadOnHangup(agent: agent, logger: logger),
        ]
        if let source {
            services.append(source)
        } else {
            services.append(
                ManifestWatcher(agent: agent, path: configuration.manifests, interval: configuration.watchInterval)
            )
        }
        var healthLogger = logger
        healthLogger[metadataKey: "component"] = "health"
        let monitor = HealthMonitor(
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            maxConcurrentChecks: budget.healthConcurrency,
            logger: healthLogger,
            metricsFactory: metrics.factory
        )
        await agent.setHealthTargetHandler { monitor.changeTargets($0) }
        await agent.setLiveHealthSource { (monitor.now, monitor.statuses()) }
        await agent.setSysctlReader { try? network.sysctl($0) }
        services.append(HealthService(monitor: monitor, agent: agent))
        if let limits = budget.admin {
            services.append(
                try AdminServer.application(
                    agent: agent,
                    path: configuration.adminSocket,
                    limits: limits,
                    logger: logger
                )
            )
        }
        if let settings = configuration.dns, let limits = budget.dns {
            // A config built in code skips the loader's check; an empty domain would make the responder
            // authoritative for every name.
            if let problem = AgentConfiguration.domainProblem(settings.domain) {
                throw AgentError(.configuration, "dns.domain \"\(settings.domain)\" \(problem)")
            }
            var dnsLogger = logger
            dnsLogger[metadataKey: "component"] = "dns"
            let publisher = ServiceZonePublisher(domain: settings.domainName, logger: dnsLogger)
            await agent.setNameHandler { publisher.publish($0) }
            services.append(
                DNSServer(
                    settings: settings,
                    publisher: publisher,
                    limits: limits,
                    metrics: DNSMetrics(factory: metrics.factory),
                    logger: dnsLogger
                )
            )
        }
        if let limits = budget.metrics {
            services.append(
                try MetricsServer.application(
                    agent: agent,
                    metrics: metrics,
                    address: configuration.metricsAddress,
                    limits: limits,
                    logger: logger
                )
            )
        }
        logger.info(
            "starting",
            metadata: [
                "manifests": "\(configuration.manifests)", "interface": "\(configuration.interface)",
                "admin_socket": "\(configuration.adminSocket)", "metrics": "\(configuration.metricsAddress)",
                "open_file_limit": "\(budget.descriptorLimit)", "health_concurrency": "\(budget.healthConcurrency)",
            ]
        )
        let group = ServiceGroup(
            configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        )
        try await group.run()
        logger.info("stopped; IPVS rules left in place (ipvsd cleanup removes them)")
    }
}

/// Runs the health monitor and feeds its transitions to the agent.
struct HealthService: Service {
    let monitor: HealthMonitor
    let agent: Agent

    func run() async throws {
        await cancelWhenGracefulShutdown {
            await withDiscardingTaskGroup { group in
                group.addTask { await monitor.run() }
                group.addTask {
                    for await transition in monitor.transitions {
                        await agent.healthChanged(transition.target, transition.status)
                    }
                }
            }
        }
    }
}

/// SIGHUP reloads the manifests.
struct ReloadOnHangup: Service {
    let agent: Agent
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        await cancelWhenGracefulShutdown {
            for await _ in signals {
                logger.info("SIGHUP: reloading manifests")
                await agent.requestReload(full: true)
            }
        }
    }
}
