import Foundation
import IPVS
import TestSupport
import Testing

/// Whether tests that need root and a kernel with IPVS can run here.
///
/// With `IPVS_REQUIRE_KERNEL=1` (set by `Tests/run` inside the VM) they always run, so a missing kernel
/// fails them instead of skipping them silently.
enum KernelTests {
    static let required = ProcessInfo.processInfo.environment["IPVS_REQUIRE_KERNEL"] == "1"

    static let enabled: Bool = {
        if required { return true }
        guard geteuid() == 0 else { return false }
        return (try? IPVSClient()) != nil
    }()
}

/// A fresh network namespace with loopback up, an IPVS client inside it, and ipvsadm as an oracle.
///
/// IPVS state is per namespace, so sandboxes never see each other's tables. Run them serially all the same:
/// the kernel resumes multi-part dumps by position in a table shared by all namespaces.
final class KernelSandbox: Sendable {
    let namespace: NetworkNamespaceHandle
    let client: IPVSClient

    init() throws {
        namespace = try NetworkNamespaceHandle.createFresh()
        client = try IPVSClient(configuration: .init(namespace: namespace.namespace))
        try run("ip", "link", "set", "lo", "up")
    }

    /// Runs a program inside the sandbox's namespace and returns its standard output.
    /// - Throws: ``CommandFailure`` when it exits non-zero.
    @discardableResult
    func run(_ arguments: String..., input: String? = nil) throws -> String {
        try run(arguments, input: input)
    }

    @discardableResult
    func run(_ arguments: [String], input: String? = nil) throws -> String {
        let result = try runAllowingFailure(arguments, input: input)
        guard result.status == 0 else {
            throw CommandFailure(arguments: arguments, status: result.status, stderr: result.stderr)
        }
        return result.stdout
    }

    /// Runs a program inside the namespace and returns its exit status and output, whatever the status.
    func runAllowingFailure(_ arguments: [String], input: String? = nil) throws -> CommandResult {
        try CommandResult.run(["nsenter", "--net=\(namespace.path)"] + arguments, input: input)
    }

    /// `ipvsadm ARGS` inside the namespace.
    @discardableResult
    func ipvsadm(_ arguments: String..., input: String? = nil) throws -> String {
        try run(["ipvsadm"] + arguments, input: input)
    }
}

typealias CommandResult = ChildProcessResult

extension ChildProcessResult {
    /// Runs `arguments` (found on PATH, plus /usr/sbin and /sbin) and waits for it.
    static func run(_ arguments: [String], input: String? = nil) throws -> CommandResult {
        var environment = ProcessInfo.processInfo.environment
        environment["PATH"] = (environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        return try ChildProcess.run("/usr/bin/env", arguments, environment: environment, input: input)
    }
}

struct CommandFailure: Error, CustomStringConvertible {
    var arguments: [String]
    var status: Int32
    var stderr: String
    var description: String { "\(arguments.joined(separator: " ")) exited \(status): \(stderr)" }
}
