import AgentAPI
import ArgumentParser
import Foundation
import IPVS

#if canImport(Glibc)
import Glibc
#endif

/// Resident memory of the real `ipvsd` holding SERVICES x SERVERS: steady, the initial load's peak and the peak of
/// a full resync, read from /proc/PID/status (VmRSS, and VmHWM reset through /proc/PID/clear_refs).
struct AgentMemoryBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agent-memory",
        abstract:
            "Resident memory of the ipvsd binary at SERVICES x SERVERS: steady, load and resync peaks (root; VM).",
        discussion: """
            Each size runs in a fresh network namespace (unshare --net) with its own ipvsd, fed N ClusterIP \
            Services x M ready endpoints as manifests, health checks off, addresses bound. Once the kernel holds \
            every service and real server and the agent is ready, VmRSS is sampled; then, per resync, VmHWM is \
            reset, POST /v1/resync (then POST /v1/sync, which reloads the manifests first) is sent and VmHWM is \
            read when the status shows a newer full sync. Before ipvsd starts, the kernel floor and one full \
            table read of the same workload are measured (--runs times, each in a namespace of its own): exec \
            to ready (the binary read into the page cache first, as `api` does) is also given over floor + \
            read, as `api` gives it. --resyncs 0 skips the peaks (the \
            growth run: 1k to 100k).
            """
    )

    @Option(help: "The ipvsd binary to run (a release build).") var ipvsd: String
    @Option(help: "Comma-separated SERVICESxSERVERS sizes, each with its own ipvsd.") var sizes = "10000x10"
    @Option(help: "Steady VmRSS samples, one per second.") var steadySamples = 5
    @Option(help: "Full resyncs triggered, each one peak sample; as many manifest reloads follow (0: none).")
    var resyncs = 3
    @Option(help: "Kernel floor and table-read repetitions (the exec-to-ready ratio's denominator).") var runs = 3
    @Option(
        help: """
            Milliseconds between status polls while ipvsd loads (the ready time's resolution; the kernel is \
            read once the status says ready).
            """
    ) var pollMilliseconds = 50
    @Option(help: "Seconds ipvsd may take to program a size, or one resync to finish.") var loadTimeout = 3600
    @Option(help: "Where to write the JSON results; - for standard output (the VM's root is read-only).")
    var out = "-"
    @Option(help: .hidden) var size: String?
    @Flag(help: .hidden) var inFreshNamespace = false

    func validate() throws {
        _ = try Self.parse(sizes)
        guard steadySamples > 0, runs > 0, pollMilliseconds > 0, loadTimeout > 0 else {
            throw ValidationError("--steady-samples, --runs, --poll-milliseconds and --load-timeout must be positive")
        }
        guard resyncs >= 0 else { throw ValidationError("--resyncs must not be negative") }
        guard FileManager.default.isExecutableFile(atPath: ipvsd) else {
            throw ValidationError("--ipvsd: \(ipvsd) is not an executable file")
        }
    }

    static func parse(_ sizes: String) throws -> [Workload] {
        try sizes.split(separator: ",").map { item in
            let parts = item.split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2, (1...200_000).contains(parts[0]), (1...64).contains(parts[1]) else {
                throw ValidationError("--sizes: '\(item)' is not SERVICESxSERVERS (1...200000 x 1...64)")
            }
            return Workload(services: parts[0], servers: parts[1])
        }
    }

    func run() throws {
        guard
            let results = try eachSizeInFreshNamespace(
                command: "agent-memory",
                sizes: sizes,
                size: size,
                inFreshNamespace: inFreshNamespace,
                repetitions: max(resyncs, 1),
                measure: measure
            )
        else { return }
        try results.emit(to: out)
    }

    /// One size, in this (fresh) namespace.
    private func measure(_ workload: Workload, into results: inout BenchRun) throws {
        let name = "\(workload.services)x\(workload.servers)"
        let (floors, reads) = try kernelFloorAndRead(workload, runs: runs, context: "agent-memory")
        log("agent-memory \(name): floor \(floors) ms, read \(reads) ms")
        var bracket = FloorBracket(before: (floors, reads))
        let lab = try AgentMemoryLab(workload: workload)
        try lab.writeFiles()
        let kernel = try IPVSClient()
        try AgentProcess.warmPageCache(ipvsd)
        let started = ContinuousClock.now
        try lab.agent.start(binary: ipvsd, config: lab.configPath)
        log("agent-memory \(name): ipvsd started")
        let loaded = try waitUntilProgrammed(lab, kernel) - started
        lab.agent.logTimings(of: "manifests loaded", context: "agent-memory \(name)")
        let initialPeak = try lab.statusMegabytes("VmHWM")
        var steady: [Double] = []
        var anonymous: [Double] = []
        var fileBacked: [Double] = []
        for _ in 0..<steadySamples {
            steady.append(try lab.statusMegabytes("VmRSS"))
            anonymous.append(try lab.statusMegabytes("RssAnon"))
            fileBacked.append(try lab.statusMegabytes("RssFile"))
            sleep(1)
        }
        let steadyMedian = IPVSBenchStats.median(steady)
        log("agent-memory \(name): loaded in \(loaded), initial peak \(initialPeak) MB, steady \(steadyMedian) MB")
        var peaks: [Double] = []
        var reloadPeaks: [Double] = []
        var after: [Double] = []
        var operations: [Double] = []
        // The resyncs first (what the periodic resync does), then as many manifest reloads with a resync.
        for index in 0..<(2 * resyncs) {
            let reload = index >= resyncs
            try lab.resetPeak()
            let before = try lab.status().lastFullSync?.atSeconds ?? -1
            try lab.requestSync(reload: reload)
            let sync = try waitForFullSync(lab, after: before)
            let peak = try lab.statusMegabytes("VmHWM")
            if reload { reloadPeaks.append(peak) } else { peaks.append(peak) }
            after.append(try lab.statusMegabytes("VmRSS"))
            operations.append(Double(sync.operations))
            log(
                "agent-memory \(name): \(reload ? "reload + resync" : "resync") \(index % resyncs + 1)/\(resyncs) "
                    + "peak \(peak) MB, \(sync.operations) operations"
            )
        }
        lab.agent.stop()
        try clearAgentTable()
        bracket.after = try kernelFloorAndRead(workload, runs: runs, context: "agent-memory")
        log("agent-memory \(name): after the agent: floor \(bracket.after.floors) ms, read \(bracket.after.reads) ms")
        let group = "agent memory \(name)"
        let setup =
            "ipvsd release build; health checks off (health.enabled false), bindAddresses true, no metrics listener"
        results.add(group, "VmRSS, steady (programmed, idle)", "MB", steady, note: setup)
        results.add(
            group,
            "  of which RssAnon (the process's own heap and stacks)",
            "MB",
            anonymous
        )
        results.add(
            group,
            "  of which RssFile (mapped binary and libraries, shared and reclaimable)",
            "MB",
            fileBacked
        )
        results.add(group, "VmHWM, initial load (manifest parse + first full sync)", "MB", [initialPeak])
        results.add(group, "initial load peak / steady", "x", [initialPeak / steadyMedian])
        if resyncs > 0 {
            results.add(group, "VmHWM, full resync (POST /v1/resync: kernel read + adopt + plan)", "MB", peaks)
            results.add(group, "VmHWM, manifest reload + full resync (POST /v1/sync)", "MB", reloadPeaks)
            results.add(group, "VmRSS, after the resyncs and reloads", "MB", after)
            results.add(group, "resync peak / steady", "x", peaks.map { $0 / steadyMedian })
            results.add(group, "reload + resync peak / steady", "x", reloadPeaks.map { $0 / steadyMedian })
            results.add(group, "operations in the resync (must be 0)", "count", operations)
        }
        results.add(group, "start to ready, kernel checked", "s", [loaded.milliseconds / 1000])
        results.addReadyOverFloor(
            group,
            readyMilliseconds: loaded.milliseconds,
            bracket: bracket,
            bar: "issue 13 bar: <= 1.5x from manifest files"
        )
    }

    /// Until the agent is ready with every service and real server, and the kernel holds them all.
    /// - Returns: when the agent said so (the check of the kernel after it is a full read, the bench's work).
    private func waitUntilProgrammed(_ lab: AgentMemoryLab, _ kernel: IPVSClient) throws -> ContinuousClock.Instant {
        let workload = lab.workload
        let deadline = ContinuousClock.now + .seconds(loadTimeout)
        while true {
            try lab.agent.check()
            // The admin socket appears once ipvsd has read its config; before that there is nothing to ask.
            guard FileManager.default.fileExists(atPath: lab.socketPath) else {
                guard ContinuousClock.now < deadline else {
                    throw BenchError("agent-memory: no admin socket within \(loadTimeout) s:\n\(lab.agent.logTail)")
                }
                usleep(useconds_t(pollMilliseconds * 1000))
                continue
            }
            let status = try lab.status()
            if let error = status.manifestErrors.first { throw BenchError("agent-memory: manifest error: \(error)") }
            if status.ready, status.virtualServers == workload.services,
                status.realServers == workload.services * workload.servers
            {
                let readyAt = ContinuousClock.now
                let services = try kernel.services()
                let servers = try services.reduce(0) { $0 + (try kernel.servers(of: $1.virtualServer.id).count) }
                if services.count == workload.services && servers == workload.services * workload.servers {
                    return readyAt
                }
                log("agent-memory: kernel holds \(services.count) services, \(servers) real servers; waiting")
            }
            guard ContinuousClock.now < deadline else {
                throw BenchError(
                    "agent-memory: ipvsd did not program \(lab.workload.services)x\(lab.workload.servers) within \(loadTimeout) s:\n\(lab.agent.logTail)"
                )
            }
            usleep(useconds_t(pollMilliseconds * 1000))
        }
    }

    /// Until the status shows a full sync that ended after `before` (seconds since the agent started).
    private func waitForFullSync(_ lab: AgentMemoryLab, after before: Double) throws -> SyncReport {
        let deadline = ContinuousClock.now + .seconds(loadTimeout)
        while true {
            try lab.agent.check()
            let status = try lab.status()
            if let sync = status.lastFullSync, sync.atSeconds > before {
                guard sync.failures == 0, status.lastError == nil else {
                    throw BenchError(
                        "agent-memory: the resync failed: \(status.lastError ?? "\(sync.failures) failures")"
                    )
                }
                return sync
            }
            guard ContinuousClock.now < deadline else {
                throw BenchError(
                    "agent-memory: no full sync within \(loadTimeout) s of the sync request:\n\(lab.agent.logTail)"
                )
            }
            usleep(500_000)
        }
    }
}
