import Agent
import ArgumentParser

struct CheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Validate the config and the manifests and print the virtual servers they describe.",
        discussion: """
            Touches neither the kernel nor the state file. Exit status 0 when valid, 1 with every error \
            (file:line: field: message) otherwise. With --kubeconfig (or a kubernetes: section), lists \
            Services and EndpointSlices once from the API instead and prints what `run` would program.
            """
    )
    @OptionGroup var options: CommonOptions

    func run() async throws {
        let descriptorLimit = try raiseDescriptorLimit()
        let configuration = try options.loadConfiguration()
        let report = await AgentCommands.check(configuration, descriptorLimit: descriptorLimit)
        for line in report.lines { print(line) }
        if !report.valid { throw ExitCode(1) }
    }
}

struct CleanupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Delete every virtual server ipvsd owns, unbind its addresses and remove its nftables table.",
        discussion: "Entries other tools created stay. Run it after stopping the agent."
    )
    @OptionGroup var options: CommonOptions

    func run() async throws {
        let descriptorLimit = try raiseDescriptorLimit()
        let configuration = try options.loadConfiguration()
        do {
            let count = try await AgentCommands.cleanup(
                configuration,
                descriptorLimit: descriptorLimit,
                logger: options.makeLogger()
            )
            print("removed \(count) virtual servers")
        } catch {
            print(error.description)
            throw ExitCode(1)
        }
    }
}

/// Raises RLIMIT_NOFILE before anything else opens a descriptor: the first thing every command does.
/// A limit that cannot even be read is reported and exits 1, where running on would trap later.
func raiseDescriptorLimit() throws -> Int {
    do {
        return try ResourceBudget.raiseDescriptorLimit()
    } catch {
        print(error.description)
        throw ExitCode(1)
    }
}
