import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// The real `ipvsd` binary run by a bench: started with its output in a log file, watched, stopped.
final class AgentProcess {
    let logPath: String
    /// Prefixes error messages: the bench that ran it ("detection", "agent-memory").
    let context: String
    private(set) var pid: pid_t?

    init(logPath: String, context: String) {
        self.logPath = logPath
        self.context = context
    }

    deinit { stop() }

    /// Reads `binary` once, so the exec that follows finds its pages in the page cache, as on a node that has
    /// run ipvsd before (or reads it from a local disk). In the VM the host's files come over 9p under
    /// emulation: a cold `ipvsd --help` took 0.97 s there against 0.42-0.45 s warm (2026-12-02), a cost of the
    /// VM's file sharing that the floor, measured inside the already-running bench, never pays. Called before
    /// a bench's clock starts.
    static func warmPageCache(_ binary: String) throws {
        guard let file = FileHandle(forReadingAtPath: binary) else {
            throw BenchError("cannot read \(binary)")
        }
        defer { try? file.close() }
        while let chunk = try file.read(upToCount: 1 << 20), !chunk.isEmpty {}
    }

    /// - Parameter arguments: more `ipvsd run` options (`--kubeconfig FILE`).
    func start(binary: String, config: String, arguments: [String] = []) throws {
        pid = try spawnProcess(
            [binary, "run", "--config", config, "--log-level", "info"] + arguments,
            log: logPath,
            context: context
        )
    }

    var logTail: String { String(((try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "").suffix(3000)) }

    /// Logs, prefixed with `context`, ipvsd's lines that say where a load's time went: its source's (`phrase`:
    /// `manifests loaded`, `listed`), the nftables write and each sync's steps.
    func logTimings(of phrase: String, context: String) {
        for line in logTail.split(separator: "\n")
        where line.contains(phrase) || line.contains("written whole") || line.contains("synced") {
            log("\(context): ipvsd: \(line)")
        }
    }

    /// Throws with the end of ipvsd's log when it is no longer running.
    func check() throws {
        guard let pid else { return }
        var status: Int32 = 0
        guard waitpid(pid, &status, WNOHANG) == pid else { return }
        self.pid = nil
        throw BenchError("\(context): ipvsd exited (wait status \(status)):\n\(logTail)")
    }

    /// SIGTERM, then SIGKILL if ipvsd is still running after 15 s.
    func stop() {
        guard let pid else { return }
        self.pid = nil
        kill(pid, SIGTERM)
        var status: Int32 = 0
        let deadline = ContinuousClock.now + .seconds(15)
        while waitpid(pid, &status, WNOHANG) == 0 {
            if ContinuousClock.now > deadline {
                kill(pid, SIGKILL)
                waitpid(pid, &status, 0)
                return
            }
            usleep(20_000)
        }
    }
}

/// posix_spawn with standard input from /dev/null, both outputs to `log` and no other descriptor.
/// (Foundation's Process needs loopback up for its run loop, and closes no descriptor the bench holds.)
func spawnProcess(_ arguments: [String], log: String, context: String) throws -> pid_t {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0o600)
    posix_spawn_file_actions_adddup2(&actions, 1, 2)
    // Not the bench's sockets: an inherited listening socket would keep a "closed" backend accepting.
    let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    for fd in open.compactMap({ Int32($0) }) where fd > 2 { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var signals = sigset_t()
    sigemptyset(&signals)
    posix_spawnattr_setsigmask(&attributes, &signals)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
    let argv = arguments.map { strdup($0) } + [nil]
    defer { for pointer in argv { free(pointer) } }
    var pid: pid_t = 0
    let result = posix_spawn(&pid, arguments[0], &actions, &attributes, argv, environ)
    guard result == 0 else {
        throw BenchError("\(context): cannot start \(arguments[0]): \(String(cString: strerror(result)))")
    }
    return pid
}

/// Runs `arguments` (the first an absolute path) through `spawnProcess`, output discarded, and waits for it;
/// throws unless it exits 0.
func runSpawned(_ arguments: [String], context: String) throws {
    let pid = try spawnProcess(arguments, log: "/dev/null", context: context)
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 {
        guard errno == EINTR else { throw BenchError("\(context): waitpid: errno \(errno)") }
    }
    guard status == 0 else {
        throw BenchError("\(context): \(arguments.joined(separator: " ")) failed (wait status \(status))")
    }
}

/// One Service and one EndpointSlice per service, every endpoint ready, as one YAML stream.
/// - Parameters:
///   - serviceAddress: the cluster IP of service `index`.
///   - backendAddress: the address of endpoint `server` of service `service`.
///   - nodeName: the node endpoint `server` of every Service runs on, as the EndpointSlice controller writes
///     it; none when nil (then ipvsd must take every endpoint as possibly local).
func clusterManifests(
    services: Int,
    servers: Int,
    serviceAddress: (Int) -> String,
    backendAddress: (_ service: Int, _ server: Int) -> String,
    nodeName: ((_ server: Int) -> String)? = nil,
    first: Int = 0
) -> String {
    var text = ""
    text.reserveCapacity(services * (servers * 48 + 480))
    for service in 0..<services {
        text += """
            apiVersion: v1
            kind: Service
            metadata: {name: s\(first + service), namespace: bench}
            spec:
              clusterIP: \(serviceAddress(service))
              ports:
              - {name: http, port: 80, targetPort: 8080}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: s\(first + service)-1, namespace: bench, labels: {kubernetes.io/service-name: s\(first + service)}}
            addressType: IPv4
            ports:
            - {name: http, protocol: TCP, port: 8080}
            endpoints:

            """
        for server in 0..<servers {
            text += "- addresses: [\(backendAddress(service, server))]\n  conditions: {ready: true}\n"
            if let nodeName { text += "  nodeName: \(nodeName(server))\n" }
        }
        text += "---\n"
    }
    return text
}

/// `unshare --net` this same command with `--in-fresh-namespace` added, so ipvsd and its IPVS table live in a
/// namespace of their own that disappears with the process.
/// - Returns: the child's standard output when `captureOutput`, else empty (it goes to ours).
@discardableResult
func reexecInFreshNamespace(arguments: [String], captureOutput: Bool = false) throws -> Data {
    let executable = try FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["unshare", "--net", "--", executable] + arguments + ["--in-fresh-namespace"]
    let pipe = Pipe()
    if captureOutput { process.standardOutput = pipe }
    try process.run()
    let output = captureOutput ? pipe.fileHandleForReading.readDataToEndOfFile() : Data()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw ExitCode(process.terminationStatus) }
    return output
}

/// The `run()` of a bench that measures each size in a network namespace of its own: without
/// `inFreshNamespace`, re-executes this command once per size of `sizes` with `--size` added (through
/// `reexecInFreshNamespace`) and gathers the figures each child prints as JSON; with it (the child), measures
/// `size` alone, prints its figures and returns nil.
/// - Parameter command: the subcommand's name, for errors.
func eachSizeInFreshNamespace(
    command: String,
    sizes: String,
    size: String?,
    inFreshNamespace: Bool,
    repetitions: Int,
    measure: (Workload, inout BenchRun) throws -> Void
) throws -> BenchRun? {
    var results = BenchRun(environment: "vm", repetitions: repetitions)
    if inFreshNamespace {
        guard let size, let workload = try AgentMemoryBench.parse(size).first else {
            throw ValidationError("--in-fresh-namespace needs --size")
        }
        // Loopback first, and not through Foundation's Process: its run loop's wakeup pair is a UDP socket
        // pair on 127.0.0.1, which a fresh namespace's down loopback refuses (ENETUNREACH), after which every
        // Process in this child hangs or misses its exit.
        try runSpawned(["/usr/bin/env", "ip", "link", "set", "lo", "up"], context: command)
        try measure(workload, &results)
        print(try results.jsonText())
        fflush(nil)
        return nil
    }
    // A size that fails (a timeout at the largest, say) is recorded and the next one still runs: the figures
    // of the sizes that finished are the run's result, and `failures` says what is missing and why.
    for workload in try AgentMemoryBench.parse(sizes) {
        let name = "\(workload.services)x\(workload.servers)"
        let arguments = Array(CommandLine.arguments.dropFirst()) + ["--size", name]
        do {
            let output = try reexecInFreshNamespace(arguments: arguments, captureOutput: true)
            do {
                results.figures += try JSONDecoder().decode(BenchRun.self, from: output).figures
            } catch {
                throw BenchError("\(command): the \(name) run printed no result: \(error)")
            }
        } catch {
            let failure = "\(name): \(error)"
            results.failures = (results.failures ?? []) + [failure]
            FileHandle.standardError.write(Data("\(command): \(failure); going on with the other sizes\n".utf8))
        }
    }
    return results
}
