import Foundation

/// The `ipvsctl` executable built next to this test bundle, run as a child process.
///
/// SwiftPM builds every product into the directory that holds the test bundle (`.build/debug/`), so the
/// tests exercise the real binary (ArgumentParser, exit codes, standard error) without a library target
/// for the commands.
struct IPVSCtlBinary {
    struct Result: Equatable, CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var description: String { "status \(status)\n--- stdout\n\(stdout)--- stderr\n\(stderr)" }
    }

    static let path: String = {
        let bundle =
            (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe"))
            ?? CommandLine.arguments[0]
        return URL(fileURLWithPath: bundle).deletingLastPathComponent().appendingPathComponent("ipvsctl").path
    }()

    static var exists: Bool { FileManager.default.isExecutableFile(atPath: path) }

    /// Runs `ipvsctl ARGUMENTS` with an 80-column help width and waits for it.
    static func run(_ arguments: [String], input: String = "") throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = arguments
        var environment = ProcessInfo.processInfo.environment
        // ArgumentParser wraps help at $COLUMNS (else the terminal's width): fix it for exact comparisons.
        environment["COLUMNS"] = "80"
        environment["LINES"] = "24"
        process.environment = environment
        let stdout = Pipe()
        let stderr = Pipe()
        let stdin = Pipe()
        process.standardOutput = stdout
        process.standardError = stderr
        process.standardInput = stdin
        try process.run()
        stdin.fileHandleForWriting.write(Data(input.utf8))
        try stdin.fileHandleForWriting.close()
        // Standard error is read on another thread so that neither pipe can fill up and block the child.
        let errorData = ErrorReader(stderr.fileHandleForReading)
        let out = stdout.fileHandleForReading.readDataToEndOfFile()
        let err = errorData.wait()
        process.waitUntilExit()
        return Result(
            status: process.terminationStatus,
            stdout: String(decoding: out, as: UTF8.self),
            stderr: String(decoding: err, as: UTF8.self)
        )
    }

    static func run(_ line: String, input: String = "") throws -> Result {
        try run(line.split(separator: " ").map(String.init), input: input)
    }
}

/// Reads a pipe to its end on a thread of its own.
private final class ErrorReader: @unchecked Sendable {
    // Safe: `data` is written once by the thread before `done` is signalled, and read only after waiting.
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ handle: FileHandle) {
        Thread.detachNewThread { [self] in
            data = handle.readDataToEndOfFile()
            done.signal()
        }
    }

    func wait() -> Data {
        done.wait()
        return data
    }
}
