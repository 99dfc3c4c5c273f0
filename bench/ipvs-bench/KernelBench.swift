import ArgumentParser
import Foundation
import IPVS
import ServiceTables

/// The real-kernel part: programming, reading, resync and one-change latency, each contender in its own
/// fresh namespace, the order rotated every repetition.
struct KernelBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "kernel",
        abstract: "Program, read and resync IPVS against the peers on the real kernel (root; run it in the VM)."
    )

    @Option(help: "Comma-separated SERVICESxSERVERS sizes.") var sizes = "1000x10,10000x10"
    @Option(help: "Repetitions per size.") var runs = 3
    @Option(help: "Single real-server changes timed at the largest size.") var changes = 200
    @Option(help: "Time keepalived only up to this many services (0: never).") var keepalivedMax = 10000
    @Option(help: "Also time this ipvsctl binary's -R and -Sn.") var ipvsctl: String?
    @Option(help: "Where to write the JSON results; - for standard output (the VM's root is read-only).")
    var out = "-"

    func validate() throws {
        _ = try parsedSizes()
        guard runs > 0, changes >= 0 else { throw ValidationError("--runs must be positive, --changes >= 0") }
    }

    func parsedSizes() throws -> [Workload] {
        try sizes.split(separator: ",").map { item in
            let parts = item.split(separator: "x").compactMap { Int($0) }
            guard parts.count == 2, (1...65536).contains(parts[0]), (0...64).contains(parts[1]) else {
                throw ValidationError("--sizes: '\(item)' is not SERVICESxSERVERS (1...65536 x 0...64)")
            }
            return Workload(services: parts[0], servers: parts[1])
        }
    }

    func run() throws {
        var results = BenchRun(environment: "vm", repetitions: runs)
        let workloads = try parsedSizes()
        let hasKeepalived = FileManager.default.isExecutableFile(atPath: "/usr/sbin/keepalived")
        // Warm-up, discarded: the first use loads ip_vs and its scheduler and pages in every binary.
        var discarded = BenchRun(environment: "vm", repetitions: 1)
        try SizeBench(workload: Workload(services: 10, servers: 2), runs: 1, ipvsctl: ipvsctl).run(into: &discarded)
        for (position, workload) in workloads.enumerated() {
            var bench = SizeBench(workload: workload, runs: runs, ipvsctl: ipvsctl)
            bench.keepalived = hasKeepalived && workload.services <= keepalivedMax
            bench.changes = position == workloads.count - 1 ? changes : 0
            try bench.run(into: &results)
            if out != "-" { try results.write(to: URL(fileURLWithPath: out)) }
        }
        if out == "-" { print(try results.jsonText()) } else { log("wrote \(out)") }
    }
}

/// All measurements of one size.
struct SizeBench {
    let workload: Workload
    let runs: Int
    let ipvsctl: String?
    var keepalived = false
    var changes = 0

    var label: String { "\(workload.services)x\(workload.servers)" }

    func run(into results: inout BenchRun) throws {
        let operations = workload.operations
        let rules = workload.ipvsadmRules
        let desired = workload.desiredState()
        var samples: [String: [Double]] = [:]
        var contenders = [
            "kernel floor (pre-encoded batches)", "IPVS library bulk apply",
            "agent path (setDesired+plan+apply+record)", "agent path, plan then apply (unstreamed)", "ipvsadm -R",
        ]
        if ipvsctl != nil { contenders.append("ipvsctl -R") }
        if keepalived { contenders.append("keepalived (config load)") }
        for run in 0..<runs {
            log("\(label) run \(run + 1)/\(runs): \(operations.count) operations")
            for index in contenders.indices {
                let name = contenders[(index + run) % contenders.count]
                let value: Double
                switch name {
                case "kernel floor (pre-encoded batches)": value = try floor(operations, samples: &samples)
                case "IPVS library bulk apply": value = try library(operations)
                case "ipvsadm -R": value = try restore(["ipvsadm", "-R"], rules)
                case "ipvsctl -R": value = try restore([ipvsctl ?? "ipvsctl", "-R"], rules)
                case "keepalived (config load)": value = try keepalivedLoad()
                case "agent path, plan then apply (unstreamed)": value = try unstreamedAgent(desired)
                default: value = try agent(desired, samples: &samples, changes: changes)
                }
                log("  \(name): \(String(format: "%.1f", value)) ms")
                samples[name, default: []].append(value)
            }
        }
        for name in contenders { results.add("program \(label)", name, "ms", samples[name] ?? []) }
        for key in samples.keys.sorted() where !contenders.contains(key) {
            let parts = key.split(separator: "|", maxSplits: 2).map(String.init)
            results.add("\(parts[0]) \(label)", parts[1], parts[2], samples[key] ?? [])
        }
    }

    private func namespace() throws -> NetworkNamespaceHandle {
        let namespace = try NetworkNamespaceHandle.createFresh()
        try runInNamespace(namespace, ["ip", "link", "set", "lo", "up"])
        return namespace
    }

    private func floor(_ operations: [IPVSOperation], samples: inout [String: [Double]]) throws -> Double {
        let ns = try namespace()
        let floor = try KernelFloor(namespace: ns)
        var batches: [(bytes: [UInt8], messages: Int)] = []
        let encoding = try measure { batches = try floor.encode(operations) }
        samples["encode|bench encoder, per operation|ns/op", default: []].append(
            encoding.milliseconds * 1e6 / Double(operations.count)
        )
        var failures = 0
        let time = try measure { failures = try floor.send(batches) }
        guard failures == 0 else { throw BenchError("floor: the kernel refused \(failures) operations") }
        try flush(ns)
        return time.milliseconds
    }

    private func library(_ operations: [IPVSOperation]) throws -> Double {
        let ns = try namespace()
        let client = try IPVSClient(configuration: .init(namespace: ns.namespace))
        var result: BulkApplyResult?
        let time = measure { result = client.apply(operations) }
        if let failure = result?.failures.first { throw BenchError("bulk apply failed: \(failure.error)") }
        try flush(ns)
        return time.milliseconds
    }

    /// The agent's path from empty, then (in the same table) reads, resync and single changes.
    private func agent(_ desired: DesiredState, samples: inout [String: [Double]], changes: Int) throws -> Double {
        let ns = try namespace()
        let client = try IPVSClient(configuration: .init(namespace: ns.namespace))
        var path = AgentPath(kernel: client)
        let time = try measure { try path.sync(desired) }
        var entries = 0
        samples["read|IPVS library (services + servers of each)|ms", default: []].append(
            try measure { entries = try readWholeTable(client) }.milliseconds
        )
        guard entries == workload.services * (workload.servers + 1) else {
            throw BenchError("read \(entries) entries, programmed \(workload.services * (workload.servers + 1))")
        }
        samples["read|ipvsadm -Sn|ms", default: []].append(
            try measure { try runInNamespace(ns, ["ipvsadm", "-Sn"]) }.milliseconds
        )
        if let ipvsctl {
            samples["read|ipvsctl -Sn|ms", default: []].append(
                try measure { try runInNamespace(ns, [ipvsctl, "-Sn"]) }.milliseconds
            )
        }
        try resync(&path, samples: &samples)
        if changes > 0 {
            try singleChanges(&path, desired, changes: changes, samples: &samples)
        }
        try flush(ns)
        return time.milliseconds
    }

    /// The agent's path as it was before planning overlapped the kernel: plan, apply, record in a row.
    private func unstreamedAgent(_ desired: DesiredState) throws -> Double {
        let ns = try namespace()
        var path = AgentPath(kernel: try IPVSClient(configuration: .init(namespace: ns.namespace)))
        path.streaming = false
        let time = try measure { try path.sync(desired) }
        try flush(ns)
        return time.milliseconds
    }

    private func resync(_ path: inout AgentPath, samples: inout [String: [Double]]) throws {
        var services: [ObservedVirtualServer] = []
        var servers: [VirtualServer.ID: [ObservedRealServer]] = [:]
        let read = try measure {
            services = try path.kernel.services()
            for service in services {
                servers[service.virtualServer.id] = try path.kernel.servers(of: service.virtualServer.id)
            }
        }
        var operations: [IPVSOperation] = []
        let diff = measure {
            path.state.adopt(services: services, servers: servers)
            operations = path.state.plan(for: nil, now: .now)
        }
        samples["resync|kernel read|ms", default: []].append(read.milliseconds)
        samples["resync|adopt + plan(nil)|ms", default: []].append(diff.milliseconds)
        samples["resync|operations planned (must be 0)|count", default: []].append(Double(operations.count))
    }

    /// Flips one endpoint's weight per change: exactly one updateServer, and no reads. Half the changes go in
    /// as a delta (`updateDesired`, O(1)), then half as the whole new desired state (`setDesired`, compares
    /// all).
    private func singleChanges(
        _ path: inout AgentPath,
        _ desired: DesiredState,
        changes: Int,
        samples: inout [String: [Double]]
    ) throws {
        let counting = CountingKernel(path.kernel)
        var changing = AgentPath(kernel: counting)
        changing.state = path.state
        var state = desired
        let ids = state.virtualServers.keys.sorted()
        var latencies: [Double] = []
        var wholeStateLatencies: [Double] = []
        var reads = 0
        var operations: [Double] = []
        // The first delta copies the table the core still shares with `desired` (the agent keeps no such
        // copy): a warm-up change, applied but not timed.
        for change in -1..<changes {
            let id = ids[((change + 1) &* 7919) % ids.count]
            let server = state.virtualServers[id]!.realServers.keys.sorted()[(change + 1) % workload.servers]
            let weight = state.virtualServers[id]!.realServers[server]!.realServer.weight
            state.virtualServers[id]!.realServers[server]!.realServer.weight = weight == 1 ? 2 : 1
            counting.reset()
            var count = 0
            if change < changes / 2 {
                let delta = [id: state.virtualServers[id]]
                let time = try measure { count = try changing.sync(delta: delta) }
                if change >= 0 { latencies.append(time.milliseconds) }
            } else {
                wholeStateLatencies.append(try measure { count = try changing.sync(state) }.milliseconds)
            }
            operations.append(Double(count))
            reads = max(reads, counting.counts.reads)
        }
        samples["one change|latency p50, delta (updateDesired)|ms", default: []].append(
            IPVSBenchStats.percentile(latencies, 0.5)
        )
        samples["one change|latency p99, delta (updateDesired)|ms", default: []].append(
            IPVSBenchStats.percentile(latencies, 0.99)
        )
        samples["one change|latency p50, whole desired state (setDesired)|ms", default: []].append(
            IPVSBenchStats.percentile(wholeStateLatencies, 0.5)
        )
        samples["one change|operations per change (must be 1)|count", default: []].append(operations.max() ?? 0)
        samples["one change|kernel reads per change (must be 0)|count", default: []].append(Double(reads))
        samples["one change|full table read (kube-proxy's per-sync cost)|ms", default: []].append(
            try measure { _ = try readWholeTable(path.kernel) }.milliseconds
        )
        path.state = changing.state
    }

    private func restore(_ command: [String], _ rules: String) throws -> Double {
        let ns = try namespace()
        let time = try measure { try runInNamespace(ns, command, input: rules) }
        try flush(ns)
        return time.milliseconds
    }

    private func keepalivedLoad() throws -> Double {
        let ns = try namespace()
        let time = try timeKeepalived(workload, in: ns, timeout: .seconds(1800))
        try flush(ns)
        return time
    }

    /// Empties the namespace's table untimed, so no contender pays for another's teardown.
    private func flush(_ ns: NetworkNamespaceHandle) throws {
        try runInNamespace(ns, ["ipvsadm", "-C"])
    }
}
