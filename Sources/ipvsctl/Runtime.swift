import ArgumentParser
import IPVS
import IPVSAdmin

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// What every subcommand shares: reading input, opening the kernel, running ipvsadm arguments, exiting.

func readStandardInput() -> String {
    var text = ""
    while let line = readLine(strippingNewline: false) { text += line }
    return text
}

/// Reads a rules file, or standard input for `-`.
/// - Throws: ``AdminError`` (status 1) when the file cannot be opened.
func readFile(_ path: String) throws(AdminError) -> String {
    if path == "-" { return readStandardInput() }
    guard let file = fopen(path, "r") else {
        throw AdminError("cannot open \(path): \(String(cString: strerror(errno)))", status: 1)
    }
    defer { fclose(file) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 65536)
    while true {
        let count = fread(&chunk, 1, chunk.count, file)
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
    _ = try client.info()
    return client
}

func makeAdmin() -> IPVSAdmin {
    IPVSAdmin(
        programName: "ipvsctl",
        resolver: SystemResolver(),
        connectionTable: { try? readFile("/proc/net/ip_vs_conn") },
        kernel: connectKernel
    )
}

func writeAll(_ fd: Int32, _ text: String) {
    var bytes = Array(text.utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        if n <= 0 { return }
        bytes = bytes.dropFirst(n)
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
