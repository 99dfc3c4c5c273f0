import Agent
import ArgumentParser
import KubernetesManifests
import Logging
import Metrics

struct IPVSD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipvsd",
        abstract: "Keep the kernel's IPVS tables equal to the Services and EndpointSlices in a manifest directory.",
        discussion: """
            Each ClusterIP:port (and external or load-balancer IP) of a Service becomes an IPVS virtual \
            server; each ready endpoint of its EndpointSlices a real server. ipvsd binds the virtual IPs \
            on a dummy interface, drains removed endpoints, health-checks backends, and changes only the \
            virtual servers it created. On SIGTERM the rules stay in place; `ipvsd cleanup` removes them.
            SIGHUP reloads the manifests. See docs/ipvsd.md.

            EXAMPLES:
              ipvsd run --config /etc/ipvsd/config.yaml
              ipvsd check --config deploy/examples/config.yaml
              ipvsd cleanup --config /etc/ipvsd/config.yaml
            """,
        version: Agent.version,
        subcommands: [RunCommand.self, CheckCommand.self, CleanupCommand.self],
        defaultSubcommand: RunCommand.self
    )
}

struct CommonOptions: ParsableArguments {
    @Option(name: .shortAndLong, help: "The config file (YAML); built-in defaults when absent.")
    var config: String?
    @Option(name: .long, help: "Override the config's manifests path (a file or a directory).")
    var manifests: String?
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info
    @Option(name: .long, help: "Log format: logfmt or json.")
    var logFormat: StructuredLogHandler.Format = .logfmt

    func loadConfiguration() throws -> AgentConfiguration {
        var configuration = AgentConfiguration()
        if let config {
            do throws(ManifestErrors) {
                configuration = try AgentConfiguration.load(path: config)
            } catch {
                throw ValidationError("invalid config:\n\(error)")
            }
        }
        if let manifests { configuration.manifests = manifests }
        return configuration
    }

    func makeLogger() -> Logger {
        let format = logFormat
        let level = logLevel
        LoggingSystem.bootstrap { StructuredLogHandler(label: $0, format: format, level: level) }
        return Logger(label: "ipvsd")
    }
}

extension Logger.Level: @retroactive ExpressibleByArgument {}
extension StructuredLogHandler.Format: ExpressibleByArgument {}
