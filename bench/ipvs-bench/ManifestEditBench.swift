import ArgumentParser
import Foundation
import IPVS

#if canImport(Glibc)
import Glibc
#endif

/// Edit to kernel through the real `ipvsd`: one endpoint changed in one manifest file (written to a
/// temporary name and renamed over it, as editors and kubectl do), timed until the kernel holds the new real
/// server. The large cluster's figure is a ratio to the small one's, measured in the same run.
struct ManifestEditBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "manifest-edit",
        abstract: "Manifest edit to kernel through ipvsd, large cluster over small, as a ratio (root; VM).",
        discussion: """
            Each case runs in a fresh network namespace (unshare --net) with its own ipvsd (health checks off, \
            watchInterval 100ms, debounce 100ms), fed SERVICES x SERVERS split over FILES manifest files. Once \
            everything is programmed, each sample rewrites one file (a different one each time) with one \
            endpoint of one Service replaced by a new address, renames it into place, and polls the kernel \
            every 2 ms until that real server appears. The watcher's poll and the debounce are in every sample \
            of both cases.
            """
    )

    @Option(help: "The ipvsd binary to run (a release build).") var ipvsd: String
    @Option(help: "The large case: SERVICESxSERVERSxFILES.") var large = "10000x10x100"
    @Option(help: "The small case, the ratio's base: SERVICESxSERVERSxFILES.") var small = "100x10x1"
    @Option(help: "Edits timed per case.") var samples = 15
    @Option(help: "Seconds ipvsd may take to program a case, or one edit to reach the kernel.") var loadTimeout = 3600
    @Option(help: "Where to write the JSON results; - for standard output (the VM's root is read-only).")
    var out = "-"
    @Option(help: .hidden) var size: String?
    @Flag(help: .hidden) var inFreshNamespace = false

    struct Case {
        var workload: Workload
        var files: Int
        var name: String { "\(workload.services)x\(workload.servers) in \(files) files" }
        /// The Services file `index` holds.
        func services(in index: Int) -> Range<Int> {
            let per = (workload.services + files - 1) / files
            return min(index * per, workload.services)..<min((index + 1) * per, workload.services)
        }
    }

    static func parse(_ text: String) throws -> Case {
        let parts = text.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 3, (1...65536).contains(parts[0]), (1...64).contains(parts[1]),
            (1...parts[0]).contains(parts[2])
        else {
            throw ValidationError("'\(text)' is not SERVICESxSERVERSxFILES (1...65536 x 1...64 x 1...SERVICES)")
        }
        return Case(workload: Workload(services: parts[0], servers: parts[1]), files: parts[2])
    }

    func validate() throws {
        _ = try Self.parse(large)
        _ = try Self.parse(small)
        guard samples > 0, loadTimeout > 0 else {
            throw ValidationError("--samples and --load-timeout must be positive")
        }
        guard FileManager.default.isExecutableFile(atPath: ipvsd) else {
            throw ValidationError("--ipvsd: \(ipvsd) is not an executable file")
        }
    }

    func run() throws {
        if inFreshNamespace {
            guard let size else { throw ValidationError("--in-fresh-namespace needs --size") }
            let edits = try measure(try Self.parse(size))
            print(try JSONEncoder().encode(edits).base64EncodedString())
            fflush(nil)
            return
        }
        var medians: [String: [Double]] = [:]
        var results = BenchRun(environment: "vm", repetitions: samples)
        for (label, text) in [("small", small), ("large", large)] {
            let arguments = Array(CommandLine.arguments.dropFirst()) + ["--size", text]
            let output = try reexecInFreshNamespace(arguments: arguments, captureOutput: true)
            guard let line = String(decoding: output, as: UTF8.self).split(separator: "\n").last,
                let data = Data(base64Encoded: String(line)),
                let edits = try? JSONDecoder().decode([Double].self, from: data)
            else {
                throw BenchError("manifest-edit: the \(text) run printed no result")
            }
            medians[label] = edits
            results.add("manifest edit", "edit to kernel, \(try Self.parse(text).name)", "ms", edits)
        }
        let ratio = IPVSBenchStats.median(medians["large"]!) / IPVSBenchStats.median(medians["small"]!)
        results.add(
            "manifest edit",
            "edit to kernel p50, \(try Self.parse(large).name) / \(try Self.parse(small).name)",
            "x",
            [ratio],
            note: "ipvsd release build; watchInterval 100ms and debounce 100ms in both; one endpoint per edit"
        )
        log("manifest-edit: large / small p50 = \(ratio)")
        if out == "-" { print(try results.jsonText()) } else { try results.write(to: URL(fileURLWithPath: out)) }
    }

    /// One case in this (fresh) namespace: the edit-to-kernel times, ms.
    private func measure(_ edit: Case) throws -> [Double] {
        let lab = try AgentMemoryLab(workload: edit.workload)
        try lab.writeFiles()
        try FileManager.default.removeItem(atPath: lab.directory + "/manifests/services.yaml")
        let config = try String(contentsOfFile: lab.configPath, encoding: .utf8)
        try (config + "\nwatchInterval: 100ms\ndebounce: 100ms\n").write(
            toFile: lab.configPath,
            atomically: true,
            encoding: .utf8
        )
        var replaced: [Int: String] = [:]
        for file in 0..<edit.files { try write(edit, file: file, replaced: replaced, lab: lab) }
        let kernel = try IPVSClient()
        try lab.agent.start(binary: ipvsd, config: lab.configPath)
        try waitForKernel(lab, kernel, edit.workload.services * edit.workload.servers, what: "the initial load") {
            try kernel.services().reduce(0) { $0 + (try kernel.servers(of: $1.virtualServer.id).count) }
        }
        log("manifest-edit \(edit.name): programmed")
        var times: [Double] = []
        for sample in 0..<samples {
            // A different file each time, and a Service in its middle.
            let file = sample * 37 % edit.files
            let range = edit.services(in: file)
            let service = range.lowerBound + range.count / 2
            let address = IPAddress(ipv4: 0x0AF8_0000 + UInt32(sample))  // 10.248.0.0/16: not the workload's
            replaced[service] = "\(address)"
            let started = ContinuousClock.now
            try write(edit, file: file, replaced: replaced, lab: lab)
            let id = edit.workload.serviceID(service)
            try waitForKernel(lab, kernel, 1, what: "edit \(sample)") {
                try kernel.servers(of: id).contains { $0.realServer.address == address } ? 1 : 0
            }
            let elapsed = (ContinuousClock.now - started).milliseconds
            times.append(elapsed)
            log("manifest-edit \(edit.name): edit \(sample + 1)/\(samples) in \(Int(elapsed)) ms")
        }
        lab.agent.stop()
        return times
    }

    /// Writes file `file` of the case, each Service's first endpoint replaced where `replaced` says, under a
    /// hidden name (the walker skips it) then renamed over the real one.
    private func write(_ edit: Case, file: Int, replaced: [Int: String], lab: AgentMemoryLab) throws {
        let range = edit.services(in: file)
        let text = clusterManifests(
            services: range.count,
            servers: edit.workload.servers,
            serviceAddress: { lab.serviceAddress(range.lowerBound + $0) },
            backendAddress: { service, server in
                let index = range.lowerBound + service
                if server == 0, let address = replaced[index] { return address }
                return "\(edit.workload.serverAddress(service: index, server: server))"
            },
            first: range.lowerBound
        )
        let path = "\(lab.directory)/manifests/file\(file).yaml"
        let temporary = "\(lab.directory)/manifests/.file\(file).yaml.tmp"
        try text.write(toFile: temporary, atomically: false, encoding: .utf8)
        guard rename(temporary, path) == 0 else { throw BenchError("manifest-edit: rename to \(path): errno \(errno)") }
    }

    /// Polls `count` every 2 ms until it reaches `target`.
    private func waitForKernel(
        _ lab: AgentMemoryLab,
        _ kernel: IPVSClient,
        _ target: Int,
        what: String,
        count: () throws -> Int
    ) throws {
        let deadline = ContinuousClock.now + .seconds(loadTimeout)
        while try count() < target {
            try lab.agent.check()
            guard ContinuousClock.now < deadline else {
                throw BenchError(
                    "manifest-edit: \(what) did not reach the kernel in \(loadTimeout) s:\n\(lab.agent.logTail)"
                )
            }
            usleep(2_000)
        }
    }
}
