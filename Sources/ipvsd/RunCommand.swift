import Agent
import ArgumentParser
import Logging
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
            // The whole text first (what an operator reads), then the parts a log pipeline filters on.
            var metadata: Logger.Metadata = ["code": "\(error.code)"]
            if let cause = error.cause { metadata["cause"] = "\(cause)" }
            logger.critical("\(error.description)", metadata: metadata)
            throw ExitCode(1)
        }
    }
}
