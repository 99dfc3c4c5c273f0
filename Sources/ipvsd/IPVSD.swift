import Agent
import ArgumentParser
import Foundation
import Logging
import Metrics

struct IPVSD: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipvsd",
        abstract: "Keep the kernel's IPVS tables equal to the Services and EndpointSlices in a manifest directory.",
        discussion: """
            Each ClusterIP:port (and external or load-balancer IP) of a Service becomes an IPVS virtual \
            server; each ready endpoint of its EndpointSlices a real server. ipvsd binds the virtual IPs \
            as local routes, drains removed endpoints, health-checks backends, and changes only the \
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
    @Option(
        name: .long,
        help: """
            This node's name, for internalTrafficPolicy/externalTrafficPolicy Local and node hints, and, with \
            the API source and no zone in the config, the Node whose topology.kubernetes.io/zone label gives \
            the zone (default: the config's nodeName, else $NODE_NAME, else the host name).
            """
    )
    var nodeName: String?
    @Option(
        name: .long,
        help:
            "Watch Services and EndpointSlices through the Kubernetes API with this kubeconfig instead of reading manifests."
    )
    var kubeconfig: String?
    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: Logger.Level = .info
    @Option(name: .long, help: "Log format: logfmt or json.")
    var logFormat: StructuredLogHandler.Format = .logfmt

    /// The configuration from `--config` (defaults without it) and `--manifests`.
    ///
    /// A bad config is not a usage error: ArgumentParser would exit 64 and print the usage, which hides the
    /// errors' file:line lines. Every error goes to standard error and the exit status is 1, as
    /// docs/ipvsd.md says.
    func loadConfiguration() throws(ExitCode) -> AgentConfiguration {
        var configuration = AgentConfiguration()
        if let config {
            do throws(ConfigurationErrors) {
                configuration = try AgentConfiguration.load(path: config)
            } catch {
                Self.printToStandardError("ipvsd: invalid config:\n\(error)")
                throw ExitCode(1)
            }
        }
        if let manifests {
            guard !manifests.isEmpty else {
                Self.printToStandardError("ipvsd: --manifests: must be a file or directory path, got \"\"")
                throw ExitCode(1)
            }
            configuration.manifests = manifests
        }
        if let kubeconfig {
            guard !kubeconfig.isEmpty else {
                Self.printToStandardError("ipvsd: --kubeconfig: must be a kubeconfig file path, got \"\"")
                throw ExitCode(1)
            }
            configuration.kubernetes.kubeconfig = kubeconfig
            configuration.kubernetes.inCluster = false
        }
        do throws(AgentError) {
            try configuration.resolveNodeName(
                flag: nodeName,
                environment: ProcessInfo.processInfo.environment,
                hostName: Self.hostName()
            )
        } catch {
            Self.printToStandardError("ipvsd: \(error)")
            throw ExitCode(1)
        }
        return configuration
    }

    /// gethostname(2): Foundation's hostName may ask DNS for a canonical name, which can stall a start.
    private static func hostName() -> String? {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return nil }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private static func printToStandardError(_ text: String) {
        FileHandle.standardError.write(Data((text + "\n").utf8))
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
