import Foundation
import IPVS

/// Runs a command inside a network namespace and waits for it; the time includes the process start, as a
/// user running it would see.
func runInNamespace(_ namespace: NetworkNamespaceHandle, _ arguments: [String], input: String? = nil) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["nsenter", "--net=\(namespace.path)"] + arguments
    let stdin = Pipe()
    process.standardInput = stdin
    process.standardOutput = FileHandle.nullDevice
    try process.run()
    if let input { stdin.fileHandleForWriting.write(Data(input.utf8)) }
    try stdin.fileHandleForWriting.close()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
        throw BenchError("\(arguments.joined(separator: " ")) exited \(process.terminationStatus)")
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Times `body` with a monotonic clock.
func measure(_ body: () throws -> Void) rethrows -> Duration {
    let clock = ContinuousClock()
    let start = clock.now
    try body()
    return clock.now - start
}

/// The command's standard output as text.
func outputInNamespace(_ namespace: NetworkNamespaceHandle, _ arguments: [String]) throws -> String {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["nsenter", "--net=\(namespace.path)"] + arguments
    let output = Pipe()
    process.standardOutput = output
    try process.run()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return String(decoding: data, as: UTF8.self)
}

/// Starts keepalived (checker subsystem only, no fork) in `namespace` and returns the milliseconds until
/// the namespace's /proc/PID/net/ip_vs lists `expectedLines` lines; stops it afterwards.
///
/// The table is polled by reading the kernel's text listing, so the resolution is one listing's time.
func timeKeepalived(_ workload: Workload, in namespace: NetworkNamespaceHandle, timeout: Duration) throws -> Double {
    let directory = FileManager.default.temporaryDirectory.appendingPathComponent("ipvs-bench-keepalived-\(getpid())")
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: directory) }
    let configuration = directory.appendingPathComponent("keepalived.conf")
    try workload.keepalivedConfiguration.write(to: configuration, atomically: true, encoding: .utf8)
    let expectedLines = 3 + workload.services * (workload.servers + 1)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
        "nsenter", "--net=\(namespace.path)", "keepalived", "--dont-fork", "--log-console", "--check",
        "--use-file=\(configuration.path)", "--pid=\(directory.path)/k.pid",
        "--checkers_pid=\(directory.path)/c.pid", "--vrrp_pid=\(directory.path)/v.pid",
    ]
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    let clock = ContinuousClock()
    let start = clock.now
    try process.run()
    defer {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }
    let listing = "/proc/\(process.processIdentifier)/net/ip_vs"
    while clock.now - start < timeout {
        guard process.isRunning else { throw BenchError("keepalived exited \(process.terminationStatus) early") }
        if let data = FileHandle(forReadingAtPath: listing)?.readDataToEndOfFile(),
            data.reduce(0, { $1 == 0x0A ? $0 + 1 : $0 }) >= expectedLines
        {
            return (clock.now - start).milliseconds
        }
        usleep(10_000)
    }
    throw BenchError("keepalived did not program \(expectedLines) lines within \(timeout)")
}
