import Agent
import ArgumentParser
import Metrics

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run the agent in the foreground (the default).",
        discussion: """
            Needs CAP_NET_ADMIN (IPVS, the dummy interface, sysctls). Exit status 1 when the kernel or \
            the host network cannot be set up; manifest errors are logged and the previous state kept.
            """
    )
    @OptionGroup var options: CommonOptions

    func run() async throws {
        let descriptorLimit = try raiseDescriptorLimit()
        let configuration = try options.loadConfiguration()
        let logger = options.makeLogger()
        let metrics = AgentMetrics()
        MetricsSystem.bootstrap(metrics.factory)
        do {
            let budget = try ResourceBudget(descriptorLimit: descriptorLimit, configuration: configuration)
            try await AgentRunner.run(configuration: configuration, budget: budget, metrics: metrics, logger: logger)
        } catch let error as AgentError {
            logger.critical("\(error.description)")
            throw ExitCode(1)
        }
    }
}
