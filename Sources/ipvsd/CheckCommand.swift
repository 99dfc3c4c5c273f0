import Agent
import ArgumentParser
import IPVS
import KubernetesManifests
import LoadBalancer

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
        do {
            // `run` would refuse this limit: say so here, and what it would clamp.
            let budget = try ResourceBudget(descriptorLimit: descriptorLimit, configuration: configuration)
            if let warning = budget.clampWarning { print("note: \(warning)") }
            if configuration.kubernetes.enabled { return try await checkAPI(configuration) }
            let (state, notes) = try AgentPreview.desiredState(configuration)
            for note in notes { print("note: \(note)") }
            print(AgentPreview.render(state), terminator: "")
        } catch let errors as ManifestErrors {
            print(errors.description)
            throw ExitCode(1)
        } catch let error as AgentError {
            print(error.description)
            throw ExitCode(1)
        }
    }
}

extension CheckCommand {
    /// One list of each resource from the API, printed as `run` would program it; rejected objects and
    /// Services that cannot be built are errors.
    func checkAPI(_ configuration: AgentConfiguration) async throws {
        let (state, problems) = try await AgentPreview.desiredStateFromAPI(configuration)
        print(AgentPreview.render(state), terminator: "")
        guard problems.isEmpty else {
            for problem in problems { print("error: \(problem)") }
            throw ExitCode(1)
        }
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
        let logger = options.makeLogger()
        do {
            _ = try ResourceBudget(descriptorLimit: descriptorLimit, configuration: configuration)
            let (client, network) = try AgentRunner.openKernel(configuration)
            let binder =
                configuration.bindAddresses
                ? DummyInterfaceBinder(network: network, interface: configuration.interface) : nil
            let agent = try Agent(
                configuration: configuration,
                kernel: client,
                binder: binder,
                packetFilter: AgentRunner.packetFilter(configuration),
                logger: logger
            )
            let count = try await agent.cleanup()
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
