import Foundation
import TestSupport

/// The `ipvsctl` executable built next to this test bundle, run as a child process.
///
/// SwiftPM builds every product into the directory that holds the test bundle (`.build/debug/`), so the
/// tests exercise the real binary (ArgumentParser, exit codes, standard error) without a library target
/// for the commands.
struct IPVSCtlBinary {
    typealias Result = ChildProcessResult

    static let path = ChildProcess.builtProduct("ipvsctl")

    static var exists: Bool { FileManager.default.isExecutableFile(atPath: path) }

    /// Runs `ipvsctl ARGUMENTS` with an 80-column help width and waits for it.
    static func run(_ arguments: [String], input: String = "") throws -> Result {
        var environment = ProcessInfo.processInfo.environment
        // ArgumentParser wraps help at $COLUMNS (else the terminal's width): fix it for exact comparisons.
        environment["COLUMNS"] = "80"
        environment["LINES"] = "24"
        return try ChildProcess.run(path, arguments, environment: environment, input: input)
    }

    static func run(_ line: String, input: String = "") throws -> Result {
        try run(line.split(separator: " ").map(String.init), input: input)
    }
}
