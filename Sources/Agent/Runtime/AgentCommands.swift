import KubernetesManifests
import Logging
import ServiceTables

/// What `ipvsd check` and `ipvsd cleanup` do, whole, so the executable only parses flags and prints.
public enum AgentCommands {
    /// What `check` prints, and whether the configuration is valid (exit 0) or not (exit 1).
    public struct CheckReport: Sendable {
        public var lines: [String]
        public var valid: Bool
    }

    /// Validates the configuration and the manifests (or one list from the Kubernetes API) and renders what
    /// `run` would program. Touches neither the kernel nor the state file.
    public static func check(_ configuration: AgentConfiguration, descriptorLimit: Int) async -> CheckReport {
        var lines: [String] = []
        do {
            // `run` would refuse this limit: say so here, and what it would clamp.
            let budget = try ResourceBudget(descriptorLimit: descriptorLimit, configuration: configuration)
            if let warning = budget.clampWarning { lines.append("note: \(warning)") }
            if configuration.kubernetes.enabled {
                let (state, problems, notes) = try await AgentPreview.desiredStateFromAPI(configuration)
                lines += notes.map { "note: \($0)" }
                lines += AgentPreview.lines(state)
                lines += problems.map { "error: \($0)" }
                return CheckReport(lines: lines, valid: problems.isEmpty)
            }
            let (state, notes) = try AgentPreview.desiredState(configuration)
            lines += notes.map { "note: \($0)" }
            lines += AgentPreview.lines(state)
            return CheckReport(lines: lines, valid: true)
        } catch {
            // ManifestErrors (one located error per line) and AgentError both describe themselves fully.
            lines.append("\(error)")
            return CheckReport(lines: lines, valid: false)
        }
    }

    /// Deletes every virtual server the agent owns, unbinds its addresses and removes its nftables table.
    /// - Returns: how many virtual servers were deleted.
    public static func cleanup(
        _ configuration: AgentConfiguration,
        descriptorLimit: Int,
        logger: Logger
    ) async throws(AgentError) -> Int {
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
        return try await agent.cleanup()
    }
}
