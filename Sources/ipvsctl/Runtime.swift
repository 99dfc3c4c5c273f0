import AgentAPI
import ArgumentParser
import IPVS
import IPVSAdmin

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// What every subcommand shares: reading input, opening the kernel, running ipvsadm arguments, exiting.

func readStandardInput() -> String { readAll(from: 0) }

/// Reads a rules file, or standard input for `-`.
/// - Throws: ``AdminError`` (status 1) when the file cannot be opened.
func readFile(_ path: String) throws(AdminError) -> String {
    if path == "-" { return readStandardInput() }
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw AdminError("cannot open \(path): \(String(cString: strerror(errno)))", status: 1) }
    defer { close(fd) }
    return readAll(from: fd)
}

/// Everything left to read from `fd`, in 64 KiB `read` calls.
private func readAll(from fd: Int32) -> String {
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if count < 0, errno == EINTR { continue }
        if count <= 0 { break }
        bytes += chunk[0..<count]
    }
    return String(decoding: bytes, as: UTF8.self)
}

/// Opens IPVS the way ipvsadm's `ipvs_init` does: resolving the family is not enough, the first request
/// (`IPVS_CMD_GET_INFO`) must succeed too, so that a missing CAP_NET_ADMIN is reported as
/// "Can't initialize ipvs" like ipvsadm, not on the first change.
func connectKernel() throws(IPVSError) -> any IPVSKernel {
    let client = try IPVSClient()
    return OpenedKernel(client: client, openingInfo: try client.info())
}

/// The kernel once opened: `-L` prints the version line from the `IPVS_CMD_GET_INFO` that opened it rather
/// than asking again.
struct OpenedKernel: IPVSKernel {
    let client: IPVSClient
    let openingInfo: IPVSInfo

    func apply(_ operations: [IPVSOperation], progress: ((Int, Int) -> Void)?) -> BulkApplyResult {
        client.apply(operations, progress: progress)
    }
    func applyStreaming(_ body: (ApplyStream) -> Void) -> [AppliedBatch] { client.applyStreaming(body) }
    func services() throws(IPVSError) -> [ObservedVirtualServer] { try client.services() }
    func service(_ id: VirtualServer.ID) throws(IPVSError) -> ObservedVirtualServer { try client.service(id) }
    func servers(of id: VirtualServer.ID) throws(IPVSError) -> [ObservedRealServer] { try client.servers(of: id) }
    func timeouts() throws(IPVSError) -> Timeouts { try client.timeouts() }
    func daemons() throws(IPVSError) -> [SyncDaemon] { try client.daemons() }
    func info() throws(IPVSError) -> IPVSInfo { openingInfo }
}

func makeAdmin() -> IPVSAdmin {
    var admin = IPVSAdmin(
        programName: "ipvsctl",
        resolver: SystemResolver(),
        connectionTable: { try? readFile("/proc/net/ip_vs_conn") },
        kernel: connectKernel
    )
    admin.progress = terminalProgress
    return admin
}

/// Progress of long bulk applies on standard error, only when it is a terminal: scripts and pipes see
/// exactly ipvsadm's output.
let terminalProgress: (@Sendable (Int, Int) -> Void)? = isatty(2) == 1 ? reportProgress : nil

@Sendable private func reportProgress(done: Int, total: Int) {
    guard total >= 1000 else { return }
    writeAll(2, "\rapplied \(done)/\(total) operations" + (done == total ? "\n" : ""))
}

func writeAll(_ fd: Int32, _ text: String) {
    var text = text
    text.withUTF8 { buffer in
        var rest = UnsafeRawBufferPointer(buffer)
        while !rest.isEmpty {
            let n = write(fd, rest.baseAddress, rest.count)
            if n < 0, errno == EINTR { continue }
            if n <= 0 { return }
            rest = UnsafeRawBufferPointer(rebasing: rest[n...])
        }
    }
}

/// Prints a command's output and exits with its status.
func finish(_ output: AdminOutput) -> Never {
    writeAll(1, output.stdout)
    writeAll(2, output.stderr)
    exit(output.status)
}

func fail(_ error: AdminError) -> Never {
    finish(AdminOutput(stderr: error.message + "\n", status: error.status))
}

/// Ends an `ipvsctl agent` command whose admin-socket request failed: exit status 1.
func fail(_ error: AdminSocketError) -> Never {
    fail(AdminError(error.message, status: 1))
}

/// Ends a read that the kernel refused: ipvsadm's wording, exit status 1.
func fail(_ error: IPVSError) -> Never {
    var text = KernelErrorText.message(error, operation: nil) + "\n"
    if let hint = KernelErrorText.hint(error, operation: nil) { text += hint + "\n" }
    finish(AdminOutput(stderr: text, status: 1))
}

func openKernel() -> any IPVSKernel {
    do {
        return try connectKernel()
    } catch {
        fail(IPVSAdmin.initializationError(error))
    }
}

/// Runs ipvsadm-style arguments built by a subcommand.
func runIpvsadm(_ arguments: [String]) -> Never {
    finish(makeAdmin().run(arguments, stdin: readStandardInput))
}

/// Parses ipvsadm-style arguments built by a subcommand without touching the kernel.
/// - Throws: `ValidationError` with ipvsadm's message, so ArgumentParser prints it with the usage (exit 64).
@discardableResult
func check(_ arguments: [String]) throws -> AdminCommand {
    do {
        return try IpvsadmParser(programName: "ipvsctl", resolver: SystemResolver()).parse(arguments)
    } catch {
        throw ValidationError(error.message)
    }
}
