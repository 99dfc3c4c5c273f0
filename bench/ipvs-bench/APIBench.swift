import ArgumentParser
import Foundation
import IPVS
import KubernetesAPI

#if canImport(Glibc)
import Glibc
#endif

/// Issue 11's figures: the real `ipvsd` watching the Kubernetes API (the stand-in server in this process),
/// against the kernel's floor measured in the same run.
struct APIBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "api",
        abstract: "ipvsd watching the Kubernetes API: exec to ready, event to kernel, idle requests, RSS (root; VM).",
        discussion: """
            Each size runs in a fresh network namespace (unshare --net). The stand-in API server (the tests' \
            own, over TLS with a generated CA) runs in this process and holds SERVICES ClusterIP Services with \
            one EndpointSlice of SERVERS ready endpoints each. In the same run: \
            (1) the kernel floor for the workload (pre-encoded batches on a bare netlink socket, as `kernel` \
            measures it) and one full table read, each in a namespace of its own, --runs times; then ipvsd's \
            binary is read once (into the page cache, as on a node that ran it before) and ipvsd is \
            exec'd with --kubeconfig and timed to ready: its status ready with every virtual and real server, \
            checked against the kernel; the figure is that time over floor + read. \
            (2) --changes single endpoint changes: the stand-in sends one MODIFIED EndpointSlice (one \
            endpoint's address replaced); inside ipvsd, ipvsd_kubernetes_event_to_kernel_seconds times the \
            event's line read to the kernel's acknowledgement (its sum's step per event is the sample), and \
            outside, the bench times the stand-in's send to a kernel read that shows the new endpoint. \
            (3) --idle-seconds with no change: the stand-in ends each watch after --watch-seconds and counts \
            the requests ipvsd makes by kind; the rate is also given at ipvsd's own watch timeout. \
            (4) ipvsd's VmHWM at ready (the initial load's peak) and VmRSS while watching.
            """
    )

    @Option(help: "The ipvsd binary to run (a release build).") var ipvsd: String
    @Option(help: "Comma-separated SERVICESxSERVERS sizes, each with its own ipvsd.") var sizes = "1000x10"
    @Option(help: "Floor and table-read repetitions.") var runs = 3
    @Option(help: "Single endpoint changes timed.") var changes = 100
    @Option(help: "Seconds with no change while the stand-in counts ipvsd's requests.") var idleSeconds = 180
    @Option(help: "The longest watch the stand-in serves, whatever timeoutSeconds ipvsd asks.")
    var watchSeconds = 30
    @Option(
        help: """
            Milliseconds between status polls while ipvsd loads (the ready time's resolution; the kernel is \
            read once the status says ready).
            """
    ) var pollMilliseconds = 50
    @Option(help: "Seconds ipvsd may take to be ready, or one change to reach the kernel.") var loadTimeout = 3600
    @Option(help: "Where to write the JSON results; - for standard output (the VM's root is read-only).")
    var out = "-"
    @Option(help: .hidden) var size: String?
    @Flag(help: .hidden) var inFreshNamespace = false

    func validate() throws {
        _ = try AgentMemoryBench.parse(sizes)
        guard runs > 0, changes > 0, idleSeconds > 0, watchSeconds > 0, pollMilliseconds > 0, loadTimeout > 0 else {
            throw ValidationError(
                "--runs, --changes, --idle-seconds, --watch-seconds, --poll-milliseconds and --load-timeout must be "
                    + "positive"
            )
        }
        guard idleSeconds >= 2 * watchSeconds else {
            throw ValidationError("--idle-seconds must cover at least two watch periods (2 x --watch-seconds)")
        }
        guard FileManager.default.isExecutableFile(atPath: ipvsd) else {
            throw ValidationError("--ipvsd: \(ipvsd) is not an executable file")
        }
    }

    func run() throws {
        guard
            let results = try eachSizeInFreshNamespace(
                command: "api",
                sizes: sizes,
                size: size,
                inFreshNamespace: inFreshNamespace,
                repetitions: runs,
                measure: measureSize
            )
        else { return }
        try results.emit(to: out)
    }

    /// One size, in this (fresh) namespace.
    private func measureSize(_ workload: Workload, into results: inout BenchRun) throws {
        let name = "\(workload.services)x\(workload.servers)"
        let group = "kubernetes api \(name)"
        let (floors, reads) = try kernelFloorAndRead(workload, runs: runs, context: "api")
        log("api \(name): floor \(floors) ms, read \(reads) ms")
        var bracket = FloorBracket(before: (floors, reads))

        let lab = try APILab(workload: workload, watchSeconds: watchSeconds)
        lab.load()
        try lab.writeConfig()
        log("api \(name): stand-in holds \(workload.services) Services and slices at \(lab.server.url)")
        let kernel = try IPVSClient()
        try AgentProcess.warmPageCache(ipvsd)
        let started = ContinuousClock.now
        let benchCPUBefore = processCPUSeconds()
        try lab.start(binary: ipvsd)
        var listedAfter: [String: Duration] = [:]
        var cpuAtReady = (agent: 0.0, bench: 0.0)
        let ready = try waitUntilReady(lab, kernel, since: started, listedAfter: &listedAfter, cpu: &cpuAtReady)
        let initialPeak = try lab.statusMegabytes("VmHWM")
        let agentCPU = cpuAtReady.agent
        // The stand-in serves from this process; the readiness poll (every --poll-milliseconds) is the rest of it.
        let benchCPU = cpuAtReady.bench - benchCPUBefore
        let loadRequests = lab.requestCounts()
        log("api \(name): ready in \(ready.milliseconds) ms, VmHWM \(initialPeak) MB, \(loadRequests) requests")
        log(
            "api \(name): CPU to ready: ipvsd \(agentCPU) s, bench (stand-in) \(benchCPU) s; listed after "
                + listedAfter.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value.milliseconds) ms" }
                .joined(separator: ", ")
        )
        var steady: [Double] = []
        var anonymous: [Double] = []
        for _ in 0..<5 {
            steady.append(try lab.statusMegabytes("VmRSS"))
            anonymous.append(try lab.statusMegabytes("RssAnon"))
            sleep(1)
        }

        let (inside, outside) = try endpointChanges(lab, kernel)
        log(
            "api \(name): event to kernel p50 \(IPVSBenchStats.percentile(inside, 0.5)) ms, "
                + "send to kernel read p50 \(IPVSBenchStats.percentile(outside, 0.5)) ms"
        )

        // Idle: the changes' own watch events are over; count from a clean start.
        let before = lab.requestCounts()
        let idleStart = ContinuousClock.now
        sleep(UInt32(idleSeconds))
        try lab.agent.check()
        let after = lab.requestCounts()
        let idle = (ContinuousClock.now - idleStart).milliseconds / 1000
        let idleRSS = try lab.statusMegabytes("VmRSS")
        let idleAnonymous = try lab.statusMegabytes("RssAnon")
        lab.agent.stop()
        try clearAgentTable()
        bracket.after = try kernelFloorAndRead(workload, runs: runs, context: "api")
        log("api \(name): after the agent: floor \(bracket.after.floors) ms, read \(bracket.after.reads) ms")

        let perMinute = Double(after.total - before.total) / idle * 60
        // ipvsd renews each resource's watch once per period: requests per period, per resource, at the cap,
        // then the same count per period at ipvsd's own timeoutSeconds.
        let periods = idle / Double(watchSeconds)
        let perPeriod = Double(after.total - before.total) / periods
        let agentTimeout = APILimits().watchTimeoutSeconds
        results.add(
            group,
            "exec to ready from the API (status ready, then checked: the kernel holds every entry)",
            "s",
            [ready.milliseconds / 1000],
            note: "ipvsd release build, --kubeconfig to the in-process stand-in (TLS); health checks off; "
                + "status polled every \(pollMilliseconds) ms"
        )
        results.addReadyOverFloor(
            group,
            readyMilliseconds: ready.milliseconds,
            bracket: bracket,
            bar: "issue 11 bar: <= 1.5x"
        )
        results.add(group, "API requests during the initial load (lists: pages)", "count", [Double(loadRequests.total)])
        for (resource, after) in listedAfter.sorted(by: { $0.key < $1.key }) {
            results.add(
                group,
                "exec to \(resource) listed (status synced)",
                "s",
                [after.milliseconds / 1000],
                note: "polled with the readiness, every \(pollMilliseconds) ms"
            )
        }
        results.add(
            group,
            "CPU from exec to ready: ipvsd (user + system)",
            "s",
            [agentCPU],
            note: "the VM has 2 CPUs; with the stand-in's, against 2 x the time to ready, this says whether the "
                + "load was bound by CPU"
        )
        results.add(group, "CPU from exec to ready: the bench process (the stand-in)", "s", [benchCPU])
        results.add(group, "one endpoint change, event read to kernel acknowledged (inside ipvsd)", "ms", inside)
        results.add(group, "  p50", "ms", [IPVSBenchStats.percentile(inside, 0.5)])
        results.add(group, "  p99", "ms", [IPVSBenchStats.percentile(inside, 0.99)])
        results.add(
            group,
            "one endpoint change, stand-in send to a kernel read showing it (outside)",
            "ms",
            outside,
            note: "includes the bench's kernel polling (every 2 ms) and the agent's debounce"
        )
        results.add(group, "  p50 (outside)", "ms", [IPVSBenchStats.percentile(outside, 0.5)])
        results.add(group, "  p99 (outside)", "ms", [IPVSBenchStats.percentile(outside, 0.99)])
        results.add(
            group,
            "idle API requests a minute (watches ended every \(watchSeconds) s)",
            "req/min",
            [perMinute],
            note: "\(after.watches - before.watches) watches, \(after.lists - before.lists) lists, "
                + "\(after.other - before.other) other in \(Int(idle)) s with no change"
        )
        results.add(group, "idle lists (must be 0)", "count", [Double(after.lists - before.lists)])
        results.add(group, "idle requests per watch period", "count", [perPeriod])
        results.add(
            group,
            "idle API requests a minute at ipvsd's timeoutSeconds (\(agentTimeout) s)",
            "req/min",
            [perPeriod * 60 / Double(agentTimeout)]
        )
        results.add(group, "VmHWM at ready (initial list + first sync)", "MB", [initialPeak])
        results.add(group, "VmRSS watching, after ready", "MB", steady)
        results.add(group, "  of which RssAnon (the process's own heap and stacks)", "MB", anonymous)
        results.add(group, "VmRSS watching, after the idle period", "MB", [idleRSS])
        results.add(group, "  of which RssAnon, after the idle period", "MB", [idleAnonymous])
    }

    /// From exec until ipvsd's status is ready with every virtual and real server; then the kernel must
    /// hold them all (it is read once the agent says so, and until it does).
    /// - Parameters:
    ///   - listedAfter: set to when each resource's status first showed it listed (synced).
    ///   - cpu: set to ipvsd's and this process's CPU seconds when the status said ready, before the bench's
    ///     own check of the kernel (a full read, which would count as the stand-in's).
    private func waitUntilReady(
        _ lab: APILab,
        _ kernel: IPVSClient,
        since started: ContinuousClock.Instant,
        listedAfter: inout [String: Duration],
        cpu: inout (agent: Double, bench: Double)
    ) throws -> Duration {
        let workload = lab.workload
        let deadline = started + .seconds(loadTimeout)
        while true {
            try lab.agent.check()
            guard ContinuousClock.now < deadline else {
                throw BenchError("api: ipvsd was not ready within \(loadTimeout) s:\n\(lab.agent.logTail)")
            }
            // The admin socket appears once ipvsd has read its config. The status answers even during a sync
            // (AgentBoard); the poll is slow enough not to compete with ipvsd for the VM's two CPUs (every
            // 20 ms, it did).
            let status = FileManager.default.fileExists(atPath: lab.socketPath) ? try? lab.status() : nil
            for resource in status?.kubernetes ?? [] where resource.synced && listedAfter[resource.resource] == nil {
                listedAfter[resource.resource] = ContinuousClock.now - started
            }
            guard let status, status.ready,
                status.virtualServers == workload.services,
                status.realServers == workload.services * workload.servers
            else {
                usleep(useconds_t(pollMilliseconds * 1000))
                continue
            }
            // Timed when the agent says so; the check of the kernel after it (a full read: about 10 s at 10k x
            // 10 under TCG) is the bench's own work, not the agent's.
            let readyAt = ContinuousClock.now
            cpu = (try lab.agentCPUSeconds(), processCPUSeconds())
            let services = try kernel.services()
            let servers = try services.reduce(0) { $0 + (try kernel.servers(of: $1.virtualServer.id).count) }
            if services.count == workload.services && servers == workload.services * workload.servers {
                lab.agent.logTimings(of: "listed", context: "api")
                return readyAt - started
            }
            log("api: ready, but the kernel holds \(services.count) services, \(servers) real servers; waiting")
        }
    }

    /// `changes` single endpoint changes, one at a time, on Services spread over the table.
    /// - Returns: per change, inside ipvsd (event read → kernel acknowledged) and outside (send → seen), ms.
    private func endpointChanges(_ lab: APILab, _ kernel: IPVSClient) throws -> (inside: [Double], outside: [Double]) {
        let workload = lab.workload
        var inside: [Double] = []
        var outside: [Double] = []
        var replaced: Set<Int> = []
        var histogram = try lab.eventHistogram()
        for sample in 0..<changes {
            let index = (sample * 7919) % workload.services
            // Alternately replace the first endpoint with an address of its own, and put the original back.
            let replacing = !replaced.contains(index)
            let original = workload.serverAddress(service: index, server: 0)
            let substitute = IPAddress(ipv4: 0x0AFA_0000 + UInt32(index))  // 10.250.0.0/16
            let expected = replacing ? substitute : original
            let id = workload.serviceID(index)
            let sent = ContinuousClock.now
            lab.server.apply(.endpointSlices, lab.slice(index, firstAddress: replacing ? "\(substitute)" : nil))
            let deadline = sent + .seconds(loadTimeout)
            while !(try kernel.servers(of: id)).contains(where: {
                $0.realServer.address == expected && $0.realServer.weight > 0
            }) {
                try lab.agent.check()
                guard ContinuousClock.now < deadline else {
                    throw BenchError("api: change \(sample) did not reach the kernel:\n\(lab.agent.logTail)")
                }
                usleep(2_000)
            }
            outside.append((ContinuousClock.now - sent).milliseconds)
            if replacing { replaced.insert(index) } else { replaced.remove(index) }
            // ipvsd observes the event when its sync ends, just after the kernel acknowledged it.
            var next = try lab.eventHistogram()
            while next.count == histogram.count {
                guard ContinuousClock.now < deadline else {
                    throw BenchError(
                        "api: change \(sample) was not observed in ipvsd_kubernetes_event_to_kernel_seconds"
                    )
                }
                usleep(20_000)
                next = try lab.eventHistogram()
            }
            guard next.count == histogram.count + 1 else {
                throw BenchError(
                    "api: change \(sample) was observed \(next.count - histogram.count) times; one event, one sample"
                )
            }
            inside.append((next.sum - histogram.sum) * 1000)
            histogram = next
            log("api: change \(sample + 1)/\(changes): inside \(inside.last!) ms, outside \(outside.last!) ms")
        }
        return (inside, outside)
    }
}
