import Agent
import Foundation
import TestSupport
import Testing

/// The descriptor budget (issue 10, items 1 and 2): RLIMIT_NOFILE is raised at start, the listeners and
/// the health checks fit inside it, and a limit too low is a clear error rather than a crash.
@Suite struct ResourceBudgetTests {
    /// The default config under systemd's default soft limit (1024): the 1024 concurrent checks that
    /// exhausted the descriptors are clamped to what is left after the core and the listeners.
    @Test func theDefaultChecksAreClampedUnderTheSystemdDefaultLimit() throws {
        let budget = try ResourceBudget(descriptorLimit: 1024, configuration: AgentConfiguration())
        let listeners =
            HTTPListenerLimits.metrics.descriptors + HTTPListenerLimits.admin.descriptors
            + ResourceBudget.healthCheckNodePortShare
        #expect(budget.isHealthClamped)
        #expect(budget.healthConcurrency == (1024 - ResourceBudget.coreReserve - listeners) / 2)
        let used =
            ResourceBudget.coreReserve + listeners + budget.healthConcurrency * ResourceBudget.descriptorsPerCheck
        #expect(used <= 1024)
        #expect(budget.clampWarning?.contains("health.maxConcurrentChecks 1024 does not fit") == true)
    }

    @Test func nothingIsClampedUnderTheUnitsLimit() throws {
        let budget = try ResourceBudget(descriptorLimit: 65536, configuration: AgentConfiguration())
        #expect(!budget.isHealthClamped)
        #expect(budget.healthConcurrency == 1024)
        #expect(budget.clampWarning == nil)
        #expect(budget.metrics == .metrics && budget.admin == .admin)
    }

    @Test func disabledListenersTakeNoShare() throws {
        var configuration = AgentConfiguration()
        configuration.metricsAddress = ""
        configuration.adminSocket = ""
        let budget = try ResourceBudget(descriptorLimit: 1024, configuration: configuration)
        #expect(budget.metrics == nil && budget.admin == nil)
        #expect(
            budget.healthConcurrency == (1024 - ResourceBudget.coreReserve - ResourceBudget.healthCheckNodePortShare)
                / 2
        )
    }

    @Test func aLimitTooLowIsAnError() {
        let error = #expect(throws: AgentError.self) {
            try ResourceBudget(descriptorLimit: 5, configuration: AgentConfiguration())
        }
        #expect(error?.description.contains("the open-file limit (RLIMIT_NOFILE) is 5") == true)
    }

    /// A soft limit below what the configuration needs, under a high hard limit, is raised: `ipvsd check`
    /// passes where the soft limit alone could not hold the budget. (In a child process: lowering this
    /// process's limit would starve the tests running beside it.)
    @Test func theSoftLimitIsRaisedToTheHardLimit() throws {
        let manifests = FileManager.default.temporaryDirectory.appendingPathComponent("budget-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: manifests, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: manifests) }
        let result = try ChildProcess.run(
            "/bin/bash",
            [
                "-c", "ulimit -S -n 150 && ulimit -H -n 4096 && exec \"$0\" check --manifests \"$1\"",
                ChildProcess.builtProduct("ipvsd"), manifests.path,
            ]
        )
        #expect(result.status == 0, "\(result)")
    }

    /// `ulimit -n 5` made `ipvsd check` die of SIGILL (libdispatch, before any command ran); now it says
    /// why and exits 1. At 300 the core fits but the listeners and checks do not.
    @Test(arguments: [(5, "needs at least 128 to start"), (300, "needs at least 354 (128 core")])
    func checkUnderATinyLimitExitsWithAClearError(limit: Int, reason: String) throws {
        let manifests = FileManager.default.temporaryDirectory.appendingPathComponent("budget-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: manifests, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: manifests) }
        let ipvsd = ChildProcess.builtProduct("ipvsd")
        let result = try ChildProcess.run(
            "/bin/bash",
            ["-c", "ulimit -n \(limit) && exec \"$0\" check --manifests \"$1\"", ipvsd, manifests.path]
        )
        #expect(result.status == 1, "\(result)")
        let output = result.stdout + result.stderr
        #expect(output.contains("the open-file limit (RLIMIT_NOFILE) is \(limit) "), "\(result)")
        #expect(output.contains(reason), "\(result)")
    }
}
