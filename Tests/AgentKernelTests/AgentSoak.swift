import Foundation
import TestSupport
import Testing

/// The soak test's additions to the lab: its own config, two named Services, a static health page per
/// backend, the agent's pid and its descriptors and memory.
extension AgentLab {
    /// The lab's config (a full resync every 5 s: a resync storm next to the churn) with health
    /// checks generous enough for the emulated VM: a stable backend must not fail 3 TCP connects of 2 s in a
    /// row only because the VM is slow, as its deletion could cut a request in flight.
    func writeSoakConfig() throws {
        try writeConfig(healthInterval: "2s", drainCheckInterval: "500ms")
    }

    /// A Service `name` at `vip`:80 with one EndpointSlice holding `indices` (all ready) on port 8080, in
    /// the file `name.yaml`.
    func writeSoakService(
        _ name: String,
        vip: String,
        backends indices: [Int],
        annotations: [String: String] = [:]
    ) throws {
        try writeService(
            clusterIP: vip,
            backends: indices.sorted(),
            annotations: annotations,
            name: name,
            file: "\(name).yaml"
        )
    }

    /// The `ipvsadm -Sn` lines (sorted, as `rules()` returns them) for round-robin NAT services on port 80
    /// with the given backends on 8080 at weight 1.
    func expectedRules(_ services: [(vip: String, backends: [Int])]) -> [String] {
        var lines: [String] = []
        for service in services {
            lines.append("-A -t \(service.vip):80 -s rr")
            for index in service.backends {
                lines.append("-a -t \(service.vip):80 -r \(backends[index].address):8080 -m -w 1")
            }
        }
        return lines.sorted()
    }

    /// Puts the backend's static health page `/healthz.txt` in place (answers 200) or takes it away (404).
    /// A static file, not a CGI: a fork per check would load the emulated VM for nothing.
    func setHealthPage(_ index: Int, up: Bool) throws {
        let file = "\(directory)/www-\(backends[index].name)/healthz.txt"
        if up {
            try "ok\n".write(toFile: file, atomically: true, encoding: .utf8)
        } else if FileManager.default.fileExists(atPath: file) {
            try FileManager.default.removeItem(atPath: file)
        }
    }

    /// The running `ipvsd` started for this lab: the process whose argv[0] is ipvsd and whose arguments
    /// name this lab's config (`ip netns exec` execs it, so it keeps the pid `startAgent` spawned).
    func agentPID() -> pid_t? {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        for entry in entries {
            guard let pid = pid_t(entry),
                let data = FileManager.default.contents(atPath: "/proc/\(entry)/cmdline")
            else { continue }
            let arguments = data.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if arguments.first.map({ URL(fileURLWithPath: $0).lastPathComponent }) == "ipvsd",
                arguments.contains(configPath)
            {
                return pid
            }
        }
        return nil
    }

    /// The last `count` lines of the agent's log, for failure messages.
    func logTail(_ count: Int = 80) -> String {
        log.split(separator: "\n", omittingEmptySubsequences: false).suffix(count).joined(separator: "\n")
    }
}

/// One reading of a process's open descriptors and resident memory.
struct ResourceSample {
    var seconds: Int
    var descriptors: Int
    var rssKiB: Int

    /// Reads /proc/PID/fd and VmRSS in /proc/PID/status; nil when the process is gone.
    static func take(of pid: pid_t, at seconds: Int) -> ResourceSample? {
        guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd"),
            let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmRSS:") }),
            let kib = line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap({
                Int($0)
            })
        else { return nil }
        return ResourceSample(seconds: seconds, descriptors: fds.count, rssKiB: kib)
    }
}

/// Whether a series of samples stays flat: the largest value of its last third may exceed the largest of
/// its first third by at most a margin. Maxima, not means, so a transient peak early (start-up, the first
/// of each kind of event) raises the bar instead of looking like growth.
struct FlatnessCheck {
    var name: String
    var firstThirdMax: Int
    var lastThirdMax: Int
    var min: Int
    var max: Int
    var allowed: Int

    init(_ name: String, _ values: [Int], allowedGrowth: (Int) -> Int) {
        self.name = name
        let third = Swift.max(1, values.count / 3)
        firstThirdMax = values.prefix(third).max() ?? 0
        lastThirdMax = values.suffix(third).max() ?? 0
        min = values.min() ?? 0
        max = values.max() ?? 0
        allowed = firstThirdMax + allowedGrowth(firstThirdMax)
    }

    var flat: Bool { lastThirdMax <= allowed }
    var summary: String {
        "\(name) min/max \(min)/\(max) (first third max \(firstThirdMax), last third max \(lastThirdMax), allowed \(allowed))"
    }
}

/// A client in the load-balancer namespace sending one HTTP/1.0 request at a time to a VIP, each on a new
/// connection, so no request can stay pinned to a draining real server by a reused connection. Bash's
/// /dev/tcp, not curl: a process per request costs up to a second in the emulated VM, this loop forks
/// nothing. It paces itself to about 4 requests a second and writes one line per request to its log:
/// `START END STATUS LINES FIRST-LINE|LAST-LINE`, STATUS being `connect` when the connection failed, or the
/// last `read`'s status: 1 at the end of the answer, above 128 when nothing came for 10 s. Connects are
/// bounded by the namespace's SYN retries (`boundConnects`). Bash's own errors go to `errorPath`.
final class TrafficGenerator {
    struct Outcome {
        var ok = 0
        var failures: [String] = []
        var answeredBy: [String: Int] = [:]
        var total: Int { ok + failures.count }
    }

    let service: String
    let logPath: String
    let errorPath: String
    private let stopPath: String
    private let process = Process()

    init(service: String, vip: String, lab: AgentLab) throws {
        self.service = service
        logPath = "\(lab.directory)/traffic-\(service).log"
        errorPath = "\(lab.directory)/traffic-\(service).err"
        stopPath = "\(lab.directory)/traffic-\(service).stop"
        let pace = "\(lab.directory)/traffic-\(service).pace"
        let script = #"""
            mkfifo \#(pace) && exec 4<>\#(pace)
            while [ ! -e \#(stopPath) ]; do
              start=$EPOCHREALTIME lines=() status=connect
              if exec 3<>/dev/tcp/\#(vip)/80; then
                printf 'GET / HTTP/1.0\r\nHost: \#(vip)\r\n\r\n' >&3
                while IFS= read -r -t 10 line <&3; status=$?; [[ $status -eq 0 || -n $line ]]; do
                  lines+=("${line%$'\r'}")
                  ((status == 0)) || break
                done
                exec 3<&-
              fi
              echo "$start $EPOCHREALTIME $status ${#lines[@]} ${lines[0]}|${lines[@]: -1}"
              read -t 0.25 -u 4
            done
            """#
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["ip", "netns", "exec", lab.lbNamespace, "bash", "-c", script]
        process.standardInput = FileHandle.nullDevice
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errorPath, contents: nil)
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errorPath))
        try process.run()
    }

    deinit {
        if process.isRunning {
            _ = FileManager.default.createFile(atPath: stopPath, contents: nil)
            process.terminate()
        }
    }

    /// Bounds a connect to about 7 s (SYN retransmitted after 1 s and 3 s, given up 4 s later) in the
    /// namespace, instead of the default two minutes.
    static func boundConnects(in lab: AgentLab) throws {
        _ = try lab.inLB("sysctl -qw net.ipv4.tcp_syn_retries=2")
    }

    /// Lets the request in flight finish, then waits (bounded) for the loop to end.
    func stop() {
        _ = FileManager.default.createFile(atPath: stopPath, contents: nil)
        let deadline = ContinuousClock.now + .seconds(30)
        while process.isRunning && ContinuousClock.now < deadline { usleep(100_000) }
        if process.isRunning {
            process.terminate()
            Issue.record("the \(service) traffic generator did not stop within 30 s")
        }
    }

    /// The requests so far: a success is a complete answer with status 200 and the body of one of `names`
    /// (each backend's index.html is its name).
    func outcome(servedBy names: Set<String>) -> Outcome {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        var outcome = Outcome()
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", maxSplits: 4).map(String.init)
            let lines = fields.count == 5 ? fields[4].split(separator: "|").map(String.init) : []
            if fields.count == 5, fields[2] == "1", lines.count == 2, lines[0].hasPrefix("HTTP/1."),
                lines[0].contains(" 200 "), names.contains(lines[1])
            {
                outcome.ok += 1
                outcome.answeredBy[lines[1], default: 0] += 1
            } else {
                outcome.failures.append(String(line))
            }
        }
        return outcome
    }

    /// The generator's own error output (connection refused, reset), for failure messages.
    var errors: String { (try? String(contentsOfFile: errorPath, encoding: .utf8)) ?? "" }
}
