import ArgumentParser
import Foundation
import IPVS

#if canImport(Glibc)
import Glibc
#endif

/// Health detection latency through the real agent: a backend's listener closes, and the time until `ipvsd`
/// has taken it out of the kernel's table is measured; then it reopens, and the time until it is back.
struct DetectionBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "detection",
        abstract: "Time health detection and recovery through the ipvsd binary on the real kernel (root; VM).",
        discussion: """
            Runs itself in a fresh network namespace (unshare --net) with SERVICES x SERVERS local TCP \
            listeners and ipvsd checking them; each sample closes one listener and polls IPVS until that \
            real server is gone, then reopens it and polls until it is back.
            """
    )

    @Option(help: "The ipvsd binary to run (a release build).") var ipvsd: String
    @Option(help: "Services (at most 250).") var services = 50
    @Option(help: "Real servers per service, each its own listener (at most 250).") var servers = 4
    @Option(help: "Samples (one listener closed and reopened each).") var samples = 30
    @Option(help: "Health check interval in ms.") var intervalMs = 1000
    @Option(help: "Health check timeout in ms.") var timeoutMs = 1000
    @Option(help: "Failed checks that take a server out.") var fall = 3
    @Option(help: "Successful checks that bring it back.") var rise = 2
    @Option(help: "Check interval jitter (0...0.5); 0 makes the expected distribution exact.") var jitter = 0.0
    @Option(help: "How often the kernel table is read while waiting, in ms.") var pollMs = 5
    @Option(help: "Where to write the JSON results; - for standard output (the VM's root is read-only).")
    var out = "-"
    @Flag(help: .hidden) var inFreshNamespace = false

    var health: DetectionHealth {
        DetectionHealth(
            interval: .milliseconds(intervalMs),
            timeout: .milliseconds(timeoutMs),
            fall: fall,
            rise: rise,
            jitter: jitter
        )
    }

    func validate() throws {
        guard (1...250).contains(services), (2...250).contains(servers) else {
            throw ValidationError("--services must be 1...250 and --servers 2...250 (one stays up per service)")
        }
        guard samples > 0, intervalMs >= 10, timeoutMs >= 10, pollMs > 0, fall > 0, rise > 0 else {
            throw ValidationError("--samples, --fall, --rise, --poll-ms must be positive; interval/timeout >= 10 ms")
        }
        guard (0...0.5).contains(jitter) else { throw ValidationError("--jitter must be 0...0.5, got \(jitter)") }
        guard FileManager.default.isExecutableFile(atPath: ipvsd) else {
            throw ValidationError("--ipvsd: \(ipvsd) is not an executable file")
        }
    }

    func run() throws {
        guard inFreshNamespace else {
            try reexecInFreshNamespace(arguments: Array(CommandLine.arguments.dropFirst()))
            return
        }
        let lab = try DetectionLab(services: services, servers: servers, health: health)
        try lab.prepareNetwork()
        for index in 0..<lab.backendCount { try lab.open(index) }
        try lab.writeFiles()
        try lab.startAgent(binary: ipvsd)
        log("detection: ipvsd started, \(lab.backendCount) listeners open")
        let kernel = try IPVSClient()
        try waitUntilProgrammed(lab, kernel)
        let probe = Probe(lab: lab, kernel: kernel, poll: .milliseconds(pollMs), limit: health.detectionBound * 10)
        // Warm-up, discarded: the first transition pages in the agent's sync path.
        _ = try probe.sample(backend: 0, delay: .zero)
        var detection: [Double] = []
        var recovery: [Double] = []
        // Spread over services and servers; a random delay so closes fall anywhere in the check interval.
        let order = (1..<lab.backendCount).shuffled()
        for sample in 0..<samples {
            let backend = order[sample % order.count]
            let delay = Duration.milliseconds(Int.random(in: 0..<intervalMs))
            let reopenDelay = Duration.milliseconds(Int.random(in: 0..<intervalMs))
            let (down, up) = try probe.sample(backend: backend, delay: delay, reopenDelay: reopenDelay)
            detection.append(down.milliseconds)
            recovery.append(up.milliseconds)
            log(
                "sample \(sample + 1)/\(samples): \(lab.backendAddress(backend)) out after "
                    + "\(MarkdownTables.number(down.milliseconds)) ms, back after \(MarkdownTables.number(up.milliseconds)) ms"
            )
        }
        log("detection: stopping ipvsd")
        lab.stopAgent()
        var results = BenchRun(environment: "vm", repetitions: samples)
        DetectionFigures(services: services, servers: servers, health: health, pollMs: pollMs)
            .add(detection: detection, recovery: recovery, to: &results)
        if out == "-" { print(try results.jsonText()) } else { try results.write(to: URL(fileURLWithPath: out)) }
        // Standard output is a pipe out of the VM: flush before the lab's teardown, whatever it does.
        fflush(nil)
        log("detection: done")
    }

    /// Until every service has all its real servers in the kernel, then long enough for each target's first
    /// `rise` checks, so no sample starts while a target is still settling.
    private func waitUntilProgrammed(_ lab: DetectionLab, _ kernel: IPVSClient) throws {
        let deadline = ContinuousClock.now + .seconds(120)
        while true {
            try lab.checkAgent()
            let complete = try (0..<services).allSatisfy { service in
                try kernel.servers(of: lab.serviceID(ofBackend: service * servers)).count == servers
            }
            if complete { break }
            guard ContinuousClock.now < deadline else {
                throw BenchError("detection: ipvsd did not program \(services)x\(servers) within 120 s")
            }
            usleep(100_000)
        }
        log("detection: \(services)x\(servers) programmed; settling")
        Thread.sleep(forTimeInterval: Double(health.interval.milliseconds) * Double(rise + 2) / 1000)
    }
}

/// One sample: close a listener and time its removal from IPVS, reopen it and time its return.
struct Probe {
    let lab: DetectionLab
    let kernel: IPVSClient
    let poll: Duration
    let limit: Duration

    func sample(
        backend: Int,
        delay: Duration,
        reopenDelay: Duration = .zero
    ) throws -> (
        detection: Duration, recovery: Duration
    ) {
        let service = try lab.serviceID(ofBackend: backend)
        let server = try lab.realServerID(backend)
        Thread.sleep(forTimeInterval: delay.milliseconds / 1000)
        try lab.close(backend)
        let detection = try waitUntil(service, server, present: false)
        // Not an error: in the emulated VM an overloaded check can time out and take another server out too.
        let remaining = try kernel.servers(of: service).count
        if remaining != lab.servers - 1 {
            log("detection: \(service) has \(remaining) real servers, not \(lab.servers - 1)")
        }
        // Also a random delay before reopening: the removal happens right after a failed check, so reopening
        // at once would always land at the same point of the check interval.
        Thread.sleep(forTimeInterval: reopenDelay.milliseconds / 1000)
        try lab.open(backend)
        let recovery = try waitUntil(service, server, present: true)
        return (detection, recovery)
    }

    /// Time from now until `server` is (or is no longer) among `service`'s real servers in the kernel.
    private func waitUntil(_ service: VirtualServer.ID, _ server: RealServer.ID, present: Bool) throws -> Duration {
        let start = ContinuousClock.now
        while true {
            let found = try kernel.servers(of: service).contains { $0.realServer.id == server }
            let now = ContinuousClock.now
            if found == present { return now - start }
            guard now - start < limit else {
                try lab.checkAgent()
                throw BenchError(
                    "detection: \(server) of \(service) still \(present ? "absent" : "present") after \(limit); ipvsd's log:\n\(lab.logTail)"
                )
            }
            usleep(UInt32(poll.milliseconds * 1000))
        }
    }
}
