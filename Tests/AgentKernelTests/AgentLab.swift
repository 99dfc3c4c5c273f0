import Foundation
import TestSupport
import Testing

/// Whether the end-to-end agent tests can run: root and a kernel with IPVS (or IPVS_REQUIRE_KERNEL=1, set by
/// Tests/run-tests inside the VM, so a missing kernel fails instead of skipping).
enum AgentKernel {
    static let required = ProcessInfo.processInfo.environment["IPVS_REQUIRE_KERNEL"] == "1"
    static let enabled: Bool = required || (geteuid() == 0 && FileManager.default.fileExists(atPath: "/proc/net/ip_vs"))
}

/// A small cluster on one machine for the real `ipvsd` binary: a load-balancer network namespace (the agent
/// programs IPVS and binds VIPs there; clients run there too) and backend namespaces with busybox httpd,
/// each behind its own veth pair. Manifests and config live in a private temporary directory.
final class AgentLab {
    struct Backend {
        var name: String
        var address: String
    }

    let tag = "\(getpid() % 10000)\(UInt16.random(in: 0...999))"
    let directory: String
    var lbNamespace: String { "al\(tag)" }
    let backends: [Backend]
    private var agent: Process?
    private var helpers: [Process] = []

    init(backends count: Int = 2, healthInterval: String = "500ms") throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("agent-lab-\(tag)").path
        try FileManager.default.createDirectory(
            atPath: directory + "/manifests",
            withIntermediateDirectories: true,
            attributes: [.posixPermissions: 0o700]
        )
        backends = (1...count).map {
            Backend(name: "ab\($0)x\(UInt32.random(in: 0...999_999))", address: "10.250.\($0).2")
        }
        var script = "set -e\nip netns add \(lbNamespace)\nip -n \(lbNamespace) link set lo up\n"
        for (index, backend) in backends.enumerated() {
            let net = "10.250.\(index + 1)"
            script += """
                ip netns add \(backend.name)
                ip -n \(lbNamespace) link add v\(index) type veth peer name eth0 netns \(backend.name)
                ip -n \(lbNamespace) addr add \(net).1/24 dev v\(index)
                ip -n \(lbNamespace) link set v\(index) up
                ip -n \(backend.name) link set lo up
                ip -n \(backend.name) addr add \(backend.address)/24 dev eth0
                ip -n \(backend.name) link set eth0 up
                ip -n \(backend.name) route add default via \(net).1

                """
        }
        try Self.shell(script)
        for index in backends.indices { try startBackend(index) }
        try writeConfig(healthInterval: healthInterval)
    }

    deinit {
        stopAgent()
        for helper in helpers where helper.isRunning { helper.terminate() }
        var script = "ip netns del \(lbNamespace) 2>/dev/null\n"
        for backend in backends {
            script += "ip netns pids \(backend.name) | xargs -r kill -9; ip netns del \(backend.name) 2>/dev/null\n"
        }
        _ = try? Self.shell(script + "rm -rf \(directory)\ntrue")
    }

    var configPath: String { directory + "/config.yaml" }
    var socket: String { directory + "/run/admin.sock" }

    /// - Parameters:
    ///   - drainCheckInterval: when given, how often draining servers are read (default 1 s).
    ///   - dns: when given, the `dns:` section's flow mapping, such as `{listen: 10.250.100.1:53}`.
    ///   - extra: more top-level config lines, such as `masquerade: none`.
    ///   - resyncPeriod: how often a full resync runs; a test that breaks the kernel's state on purpose and
    ///     asserts the breakage before repairing it sets it long, so no resync repairs it in between.
    func writeConfig(
        healthInterval: String,
        drainCheckInterval: String? = nil,
        dns: String? = nil,
        extra: String = "",
        resyncPeriod: String = "5s"
    ) throws {
        try """
        manifests: \(directory)/manifests
        stateFile: \(directory)/state.json
        interface: lab0
        metricsAddress: ""
        adminSocket: \(socket)
        resyncPeriod: \(resyncPeriod)
        gracePeriod: 3s
        watchInterval: 200ms
        \(drainCheckInterval.map { "drainCheckInterval: \($0)" } ?? "")
        \(dns.map { "dns: \($0)" } ?? "")
        \(extra)
        health:
          interval: \(healthInterval)
          timeout: \(healthInterval)
          fall: 3
          rise: 2
        """.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// Starts busybox httpd on port 8080 in a backend namespace, answering with the backend's name
    /// (`/cgi-bin/whoami` answers with the client's address as the backend sees it). Its pid
    /// (kept through the execs) goes to a pid file, so `stopBackend` kills exactly that server.
    func startBackend(_ index: Int) throws {
        let backend = backends[index]
        let root = "\(directory)/www-\(backend.name)"
        try Self.shell(
            """
            mkdir -p \(root)/cgi-bin && echo \(backend.name) > \(root)/index.html
            cat > \(root)/cgi-bin/flap <<'EOF'
            \(Self.flapScript(root: root))
            EOF
            cat > \(root)/cgi-bin/whoami <<'EOF'
            #!/bin/sh
            printf 'Content-Type: text/plain\\r\\n\\r\\n%s\\n' "$REMOTE_ADDR"
            EOF
            chmod +x \(root)/cgi-bin/flap \(root)/cgi-bin/whoami
            \(Self.detached("ip netns exec \(backend.name) busybox httpd -f -p 8080 -h \(root)", pidFile: pidFile(index)))
            """
        )
        guard try waitUntil(.seconds(5), { try serving(index) }) else {
            throw LabFailure(description: "httpd of \(backend.name) does not answer")
        }
    }

    /// Kills the backend's httpd with the children it forked per connection (its own process group, from
    /// setsid) and waits until its port refuses connections.
    func stopBackend(_ index: Int) throws {
        let pid = try String(contentsOfFile: pidFile(index), encoding: .utf8)
        try Self.shell("kill -9 -- -\(pid.trimmingCharacters(in: .whitespacesAndNewlines))")
        guard try waitUntil(.seconds(5), { try !serving(index) }) else {
            throw LabFailure(description: "httpd of \(backends[index].name) still answers after kill")
        }
    }

    /// Whether the backend's httpd answers on its own address, from inside its namespace.
    func serving(_ index: Int) throws -> Bool {
        let backend = backends[index]
        let probe = "curl -s -o /dev/null --max-time 1 http://\(backend.address):8080/"
        return (try? Self.run(["ip", "netns", "exec", backend.name, "bash", "-c", probe])) != nil
    }

    private func pidFile(_ index: Int) -> String { "\(directory)/httpd-\(index).pid" }

    /// `/cgi-bin/flap`: counts its calls in `count`; answers 200, or while a `flapping` file exists 200 and
    /// 503 in turn, so a health check on it fails every other time whatever the timing.
    private static func flapScript(root: String) -> String {
        """
        #!/bin/sh
        n=$(cat \(root)/count 2>/dev/null || echo 0); n=$((n + 1)); echo $n > \(root)/count
        if [ -e \(root)/flapping ] && [ $((n % 2)) -eq 0 ]; then
          printf 'Status: 503 Service Unavailable\\r\\nContent-Type: text/plain\\r\\n\\r\\ndown\\n'
        else
          printf 'Content-Type: text/plain\\r\\n\\r\\nup\\n'
        fi
        """
    }

    /// Makes the backend's `/cgi-bin/flap` alternate between 200 and 503 (or answer 200 again).
    func setFlapping(_ index: Int, _ flapping: Bool) throws {
        let file = "\(directory)/www-\(backends[index].name)/flapping"
        if flapping {
            FileManager.default.createFile(atPath: file, contents: nil)
        } else {
            try FileManager.default.removeItem(atPath: file)
        }
    }

    /// How many times the backend's `/cgi-bin/flap` was called.
    func flapCalls(_ index: Int) -> Int {
        let file = "\(directory)/www-\(backends[index].name)/count"
        return (try? String(contentsOfFile: file, encoding: .utf8)).flatMap {
            Int($0.trimmingCharacters(in: .whitespacesAndNewlines))
        } ?? 0
    }

    /// A Service with a static cluster IP and one EndpointSlice with the given backends (all ready).
    func writeService(
        clusterIP: String,
        backends indices: [Int],
        annotations: [String: String] = [:],
        name: String = "web",
        file: String = "service.yaml",
        nodeNames: [Int: String] = [:]
    ) throws {
        let annotationMap = annotations.sorted { $0.key < $1.key }.map { "\($0.key): \"\($0.value)\"" }
        var text = """
            apiVersion: v1
            kind: Service
            metadata: {name: \(name), namespace: lab, annotations: {\(annotationMap.joined(separator: ", "))}}
            spec:
              clusterIP: \(clusterIP)
              ports:
              - {name: http, port: 80, targetPort: 8080}
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: \(name)-1
              namespace: lab
              labels: {kubernetes.io/service-name: \(name)}
            addressType: IPv4
            ports:
            - {name: http, protocol: TCP, port: 8080}
            endpoints:

            """
        for index in indices {
            text += "- addresses: [\(backends[index].address)]\n  conditions: {ready: true}\n"
            if let node = nodeNames[index] { text += "  nodeName: \(node)\n" }
        }
        try writeManifest(file, text)
    }

    func writeManifest(_ file: String, _ text: String) throws {
        try text.write(toFile: "\(directory)/manifests/\(file)", atomically: true, encoding: .utf8)
    }

    // MARK: The agent

    /// - Parameters:
    ///   - environment: extra variables for ipvsd (`IPVSD_CRASH_AT` for the crash tests).
    ///   - inNamespace: false runs ipvsd in the test's own namespace (to reach a server on its loopback);
    ///     the config's `networkNamespace` then points it at the lab's.
    func startAgent(environment: [String: String] = [:], inNamespace: Bool = true) throws {
        let process = Process()
        // Inside the load-balancer namespace, as on a real node: IPVS, the VIPs and the health probes all
        // live there. (`ip netns exec` execs ipvsd, so SIGTERM reaches it.)
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        let namespace = inNamespace ? ["ip", "netns", "exec", lbNamespace] : []
        process.arguments =
            environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" } + namespace + [
                ChildProcess.builtProduct("ipvsd"), "run", "--config", configPath, "--log-level", "debug",
            ]
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try log.seekToEnd()
        process.standardError = log
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        agent = process
    }

    /// SIGTERM, and wait for the agent to exit.
    func stopAgent() {
        guard let agent, agent.isRunning else { return }
        agent.terminate()
        // Bounded: an agent that ignores SIGTERM fails the test instead of hanging the run.
        let deadline = ContinuousClock.now + .seconds(15)
        while agent.isRunning && ContinuousClock.now < deadline { usleep(50_000) }
        if agent.isRunning {
            kill(agent.processIdentifier, SIGKILL)
            Issue.record("ipvsd did not exit within 15 s of SIGTERM")
        }
        agent.waitUntilExit()
        self.agent = nil
    }

    /// Waits up to `timeout` for the agent to exit by itself; returns how it ended, or nil if still running.
    func waitForAgentExit(_ timeout: Duration) -> (reason: Process.TerminationReason, status: Int32)? {
        guard let agent else { return nil }
        let deadline = ContinuousClock.now + timeout
        while agent.isRunning && ContinuousClock.now < deadline { usleep(50_000) }
        guard !agent.isRunning else { return nil }
        self.agent = nil
        return (agent.terminationReason, agent.terminationStatus)
    }

    var logPath: String { directory + "/ipvsd.log" }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// `ipvsctl ARGS` against the agent's socket.
    func ipvsctl(_ arguments: String...) throws -> String {
        try Self.run([ChildProcess.builtProduct("ipvsctl")] + arguments)
    }

    // MARK: The load-balancer namespace

    /// `ipvsadm -Sn` in the load-balancer namespace, sorted.
    func rules() throws -> [String] {
        try Self.run(["ip", "netns", "exec", lbNamespace, "ipvsadm", "-Sn"]).split(separator: "\n").map(String.init)
            .sorted()
    }

    func inLB(_ command: String) throws -> String {
        try Self.run(["ip", "netns", "exec", lbNamespace, "bash", "-c", command])
    }

    /// The VIPs ipvsd routes as local through lo (`proto 168`, both families), one per line as `ip -o route` prints them.
    func localRoutes() throws -> String {
        try inLB("ip -o route show table local dev lo proto 168; ip -6 -o route show table local dev lo proto 168")
    }

    /// `ip -o addr show dev lab0`: ipvsd binds a VIP as a local route, so this lists none of them.
    func addresses() throws -> String {
        try inLB("ip -o addr show dev lab0")
    }

    /// Which backend answered each of `count` requests to `url` (one connection each); "failed" for errors.
    func requests(_ url: String, count: Int) throws -> [String: Int] {
        let output = try inLB(
            "for i in $(seq \(count)); do curl -s --max-time 2 \(url) || echo failed; done"
        )
        var counts: [String: Int] = [:]
        for line in output.split(separator: "\n") { counts[String(line), default: 0] += 1 }
        return counts
    }

    /// Polls `condition` every 100 ms until it holds or `timeout` passes; returns whether it held.
    func waitUntil(_ timeout: Duration, _ condition: () throws -> Bool) rethrows -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if try condition() { return true }
            usleep(100_000)
        }
        return try condition()
    }

    // MARK: Processes

    /// Starts a long-lived helper (a listener, a client holding a connection) with its output in `output`;
    /// it is killed when the lab ends.
    func spawn(_ arguments: [String], output: String? = nil) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        process.standardInput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        if let output {
            FileManager.default.createFile(atPath: output, contents: nil)
            process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: output))
        } else {
            process.standardOutput = FileHandle.nullDevice
        }
        try process.run()
        helpers.append(process)
    }

    /// A shell line that starts `command` in the background without any descriptor of the shell: Foundation's
    /// Process learns that a child exited when the last holder of an inherited descriptor closes it, so a
    /// server that kept one would hang the command that started it.
    static func detached(_ command: String, pidFile: String? = nil) -> String {
        let closing = #"for fd in /proc/$$/fd/*; do fd=${fd##*/}; [ "$fd" -gt 2 ] && eval "exec $fd>&-"; done"#
        let recording = pidFile.map { "echo $$ > \($0); " } ?? ""
        return "setsid bash -c '\(closing); \(recording)exec \(command)' </dev/null >/dev/null 2>&1 &"
    }

    @discardableResult
    static func shell(_ script: String) throws -> String { try run(["bash", "-c", script]) }

    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let result = try ChildProcess.run("/usr/bin/env", arguments)
        guard result.status == 0 else {
            throw LabFailure(description: "\(arguments.joined(separator: " ")): \(result)")
        }
        return result.stdout
    }
}

struct LabFailure: Error, CustomStringConvertible {
    var description: String
}
