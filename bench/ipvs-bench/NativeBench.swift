import ArgumentParser
import Foundation
@_spi(Benchmarks) import HealthCheck
@_spi(Benchmarks) import IPVS
import NIOCore
import NIOPosix
import ServiceTables

#if canImport(Glibc)
import Glibc
#endif

/// The in-process part, no kernel: the core's table operations and diff, and health-check throughput.
struct NativeBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "native",
        abstract: "Time the load-balancer core and the TCP health prober in-process (no kernel needed)."
    )

    @Option(help: "Services x servers of the core's table.") var services = 10000
    @Option(help: "Real servers per service.") var servers = 10
    @Option(help: "Repetitions.") var runs = 3
    @Option(help: "Local TCP listeners probed by the health throughput test.") var listeners = 200
    @Option(help: "Seconds each health throughput run lasts.") var healthSeconds = 3
    @Option(help: "Where to write the JSON results.") var out = "bench/results/native.json"
    @Flag(help: "Only the health-check throughput (a quick look while working on the prober).") var onlyHealth = false
    @Flag(help: "Only the decoding figures (manifests and API pages).") var onlyDecode = false

    func run() throws {
        Allocations.preloadIfPossible()
        var results = BenchRun(environment: "native", repetitions: runs)
        if onlyHealth || onlyDecode {
            if onlyHealth { try healthThroughput(into: &results) }
            if onlyDecode { try DecodeBench.run(services: services, servers: servers, runs: runs, into: &results) }
            try results.write(to: URL(fileURLWithPath: out))
            return
        }
        let workload = Workload(services: services, servers: servers)
        let label = "core \(services)x\(servers)"
        let desired = workload.desiredState()
        var samples: [String: [Double]] = [:]
        let entries = Double(services * (servers + 1))
        for run in 1...runs {
            print("core run \(run)/\(runs)")
            var state = LoadBalancerState()
            var changed = Set<VirtualServer.ID>()
            let insert = measure { changed = state.setDesired(desired) }
            var operations: [IPVSOperation] = []
            let plan = measure { operations = state.plan(for: changed, now: .now) }
            let success = BulkApplyResult(operationCount: operations.count, failures: [], sendCalls: 1)
            let record = measure { state.record(operations, result: success) }
            let observed = observedTable(workload)
            var noChange: [IPVSOperation] = []
            let resync = measure {
                state.adopt(services: observed.services, servers: observed.servers)
                noChange = state.plan(for: nil, now: .now)
            }
            guard noChange.isEmpty else { throw BenchError("resync of an unchanged table planned \(noChange.count)") }
            var lookups = 0
            let lookup = measure {
                for id in desired.virtualServers.keys where state.desired.virtualServers[id] != nil { lookups += 1 }
            }
            // One endpoint's weight changes: setDesired compares every service, plan only the changed one.
            var next = desired
            let id = workload.serviceID(services / 2)
            let server = workload.realServer(service: services / 2, server: 0).id
            next.virtualServers[id]?.realServers[server]?.realServer.weight = 2
            var oneChange = Set<VirtualServer.ID>()
            let compare = measure { oneChange = state.setDesired(next) }
            var single: [IPVSOperation] = []
            let planOne = measure { single = state.plan(for: oneChange, now: .now) }
            guard single.count == 1 else { throw BenchError("one changed endpoint planned \(single.count) operations") }
            state.record(single, result: .init(operationCount: 1, failures: [], sendCalls: 1))
            // The same change back as a delta: updateDesired touches only that service. The first delta after
            // a setDesired copies the table the caller still shares (here `next`; the agent drops its copy),
            // so it is not the one timed.
            var back = next.virtualServers[id]
            back?.realServers[server]?.realServer.weight = 3
            _ = state.updateDesired([id: back])
            back?.realServers[server]?.realServer.weight = 1
            var deltaChange = Set<VirtualServer.ID>()
            let delta = measure { deltaChange = state.updateDesired([id: back]) }
            guard deltaChange == [id] else { throw BenchError("a one-service delta changed \(deltaChange.count)") }
            state.record(
                state.plan(for: deltaChange, now: .now),
                result: .init(operationCount: 1, failures: [], sendCalls: 1)
            )
            samples["one change: setDesired (compares every service)|ms", default: []].append(compare.milliseconds)
            samples["one change: updateDesired (delta)|ms", default: []].append(delta.milliseconds)
            samples["one change: plan(for: changed)|ms", default: []].append(planOne.milliseconds)
            // Table insert and delete one service at a time (a delta each), as an event source would feed it.
            var oneByOne = LoadBalancerState()
            let inserts = measure {
                for (id, entry) in desired.virtualServers { _ = oneByOne.updateDesired([id: entry]) }
            }
            let deletes = measure { for id in desired.virtualServers.keys { _ = oneByOne.updateDesired([id: nil]) } }
            samples["updateDesired insert, per service|ns/op", default: []].append(ns(inserts, Double(services)))
            samples["updateDesired delete, per service|ns/op", default: []].append(ns(deletes, Double(services)))
            let encode = try measure { _ = try IPVSRequestEncoding.encode(operations) }
            samples["netlink encoding (library), per message|ns/op", default: []].append(
                ns(encode, Double(operations.count))
            )
            var emptied = state
            let delete = measure { changed = emptied.setDesired(DesiredState()) }
            let deletions = emptied.plan(for: changed, now: .now)
            samples["setDesired from empty (insert), per entry|ns/op", default: []].append(ns(insert, entries))
            samples["desired lookup by service ID|ns/op", default: []].append(ns(lookup, Double(lookups)))
            samples["setDesired to empty (delete), per entry|ns/op", default: []].append(ns(delete, entries))
            samples["plan from empty (diff desired vs programmed)|ms", default: []].append(plan.milliseconds)
            samples["plan from empty, per operation|ns/op", default: []].append(ns(plan, Double(operations.count)))
            samples["record (programmed model update), per operation|ns/op", default: []].append(
                ns(record, Double(operations.count))
            )
            samples["full resync: adopt + plan(nil), no change|ms", default: []].append(resync.milliseconds)
            samples["plan to empty, operations (one delete per service)|count", default: []].append(
                Double(deletions.count)
            )
        }
        for key in samples.keys.sorted() {
            let parts = key.split(separator: "|").map(String.init)
            results.add(label, parts[0], parts[1], samples[key] ?? [])
        }
        if Allocations.counting {
            for (name, value) in try allocationsPerOperation(workload, desired) {
                results.add(label, name, "allocs/op", [value])
            }
        } else {
            print("allocations not counted: \(Allocations.library) is not preloaded")
        }
        try DecodeBench.run(services: services, servers: servers, runs: runs, into: &results)
        try healthThroughput(into: &results)
        try results.write(to: URL(fileURLWithPath: out))
        print("wrote \(out)")
    }

    private func ns(_ duration: Duration, _ count: Double) -> Double {
        count > 0 ? duration.milliseconds * 1e6 / count : 0
    }

    /// Heap allocations per operation of the core's table operations and the library's encoder (counts are
    /// deterministic: measured once).
    private func allocationsPerOperation(_ workload: Workload, _ desired: DesiredState) throws -> [(String, Double)] {
        var state = LoadBalancerState()
        var changed = Set<VirtualServer.ID>()
        let entries = Double(workload.services * (workload.servers + 1))
        let insert = Allocations.count { changed = state.setDesired(desired) }
        var operations: [IPVSOperation] = []
        let plan = Allocations.count { operations = state.plan(for: changed, now: .now) }
        let success = BulkApplyResult(operationCount: operations.count, failures: [], sendCalls: 1)
        let record = Allocations.count { state.record(operations, result: success) }
        let ids = Array(desired.virtualServers.keys)
        let servers = ids.map { desired.virtualServers[$0]!.realServers.keys.first! }
        var found = 0
        let serviceLookup = Allocations.count {
            for id in ids where state.desired.virtualServers[id] != nil { found += 1 }
        }
        let pairs = Array(zip(ids, servers))
        // One pass untimed first: the runtime instantiates generic metadata on first use (a one-off).
        for (id, server) in pairs.prefix(10) where state.desired.virtualServers[id]?.realServers[server] != nil {
            found += 0
        }
        let serverLookup = Allocations.count {
            for (id, server) in pairs where state.desired.virtualServers[id]?.realServers[server] != nil {
                found += 1
            }
        }
        guard found == 2 * ids.count else { throw BenchError("lookups found \(found) of \(2 * ids.count)") }
        var encodingError: (any Error)?
        let encode = Allocations.count {
            do { _ = try IPVSRequestEncoding.encode(operations) } catch { encodingError = error }
        }
        if let encodingError { throw encodingError }
        let delete = Allocations.count { changed = state.setDesired(DesiredState()) }
        var single = LoadBalancerState()
        let inserts = Allocations.count {
            for (id, entry) in desired.virtualServers { _ = single.updateDesired([id: entry]) }
        }
        let deletes = Allocations.count { for id in ids { _ = single.updateDesired([id: nil]) } }
        let perOperation = Double(operations.count)
        return [
            ("setDesired from empty (insert), allocations per entry", Double(insert) / entries),
            ("desired lookup by service ID, allocations per lookup", Double(serviceLookup) / Double(ids.count)),
            (
                "real server lookup (service, then server), allocations per lookup",
                Double(serverLookup) / Double(ids.count)
            ),
            ("setDesired to empty (delete), allocations per entry", Double(delete) / entries),
            ("updateDesired insert, allocations per service", Double(inserts) / Double(ids.count)),
            ("updateDesired delete, allocations per service", Double(deletes) / Double(ids.count)),
            ("plan from empty, allocations per operation", Double(plan) / perOperation),
            ("record, allocations per operation", Double(record) / perOperation),
            ("netlink encoding (library), allocations per message", Double(encode) / perOperation),
        ]
    }

    /// What a kernel read of the programmed workload returns, built in memory.
    private func observedTable(
        _ workload: Workload
    ) -> (services: [ObservedVirtualServer], servers: [VirtualServer.ID: [ObservedRealServer]]) {
        var services: [ObservedVirtualServer] = []
        var servers: [VirtualServer.ID: [ObservedRealServer]] = [:]
        for service in 0..<workload.services {
            let id = workload.serviceID(service)
            services.append(ObservedVirtualServer(virtualServer: VirtualServer(id: id, scheduler: .roundRobin)))
            servers[id] = (0..<workload.servers).map {
                ObservedRealServer(realServer: workload.realServer(service: service, server: $0))
            }
        }
        return (services, servers)
    }

    /// TCP checks per second with one prober event-loop thread against local listeners on another thread.
    private func healthThroughput(into results: inout BenchRun) throws {
        let listenerGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let proberGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer {
            try? listenerGroup.syncShutdownGracefully()
            try? proberGroup.syncShutdownGracefully()
        }
        var channels: [any Channel] = []
        for _ in 0..<listeners {
            let channel = try ServerBootstrap(group: listenerGroup)
                .serverChannelOption(.backlog, value: 1024)
                .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
                .childChannelInitializer { $0.close() }
                .bind(host: "127.0.0.1", port: 0).wait()
            channels.append(channel)
        }
        defer { for channel in channels { try? channel.close().wait() } }
        let spec = HealthCheckSpec(kind: .tcp, interval: .seconds(1), timeout: .seconds(1))
        let targets = channels.compactMap { channel -> HealthTarget? in
            guard let port = channel.localAddress?.port, let address = IPAddress("127.0.0.1") else { return nil }
            return HealthTarget(realServer: RealServer.ID(address: address, port: UInt16(port)), spec: spec)
        }
        // The prober event loop's thread, for the SwiftNIO variant's CPU time.
        let proberThread = try proberGroup.next().submit { currentThreadID() }.wait()
        // Both ways of running TCP checks in the same run: the checker thread (production) and SwiftNIO's
        // ClientBootstrap with a task per check (before it), so the figure is a ratio, not a host's absolute.
        let variants: [(name: String, checkerThread: Bool)] = [
            ("checker thread", true), ("SwiftNIO bootstrap + task per check (before)", false),
        ]
        var samples: [String: [Double]] = [:]
        for run in 1...runs {
            for variant in variants {
                let before = processCPUSeconds()
                let threadsBefore = threadCPUSeconds()
                let outcome = blockingAwait {
                    await HealthMonitor.measureThroughput(
                        targets: targets,
                        duration: .seconds(healthSeconds),
                        group: proberGroup,
                        tcpCheckerThread: variant.checkerThread
                    )
                }
                let used = processCPUSeconds() - before
                let threadsAfter = threadCPUSeconds()
                // The prober's CPU: the checker's thread (a new one each run), or the prober event loop's.
                let proberUsed = threadsAfter.reduce(0.0) { total, entry in
                    let isProber =
                        variant.checkerThread
                        ? entry.value.name.hasPrefix(checkerThreadPrefix) : entry.key == proberThread
                    return isProber ? total + entry.value.seconds - (threadsBefore[entry.key]?.seconds ?? 0) : total
                }
                let checks = Double(outcome.checks)
                samples["checks/s, \(variant.name)", default: []].append(checks / Double(healthSeconds))
                samples["checks per CPU-second of the prober thread, \(variant.name)", default: []].append(
                    proberUsed > 0 ? checks / proberUsed : 0
                )
                samples["checks per CPU-second of the whole process, \(variant.name)", default: []].append(
                    used > 0 ? checks / used : 0
                )
                samples["failed checks, \(variant.name)", default: []].append(Double(outcome.failures))
                print(
                    "health run \(run)/\(runs), \(variant.name): \(outcome.checks) checks, \(outcome.failures) failed"
                )
            }
        }
        let group = "health tcp, \(listeners) local listeners"
        for measure in [
            "checks/s", "checks per CPU-second of the prober thread", "checks per CPU-second of the whole process",
        ] {
            for variant in variants {
                let name = "\(measure), \(variant.name)"
                results.add(group, name, "checks/s", samples[name] ?? [])
            }
        }
        for variant in variants {
            results.add(
                group,
                "failed checks, \(variant.name)",
                "count",
                samples["failed checks, \(variant.name)"] ?? []
            )
        }
    }
}

/// The TCP checker's thread, as /proc names it (`TCPConnectChecker` names it ipvsd-tcp-checks; comm keeps 15 bytes).
let checkerThreadPrefix = "ipvsd-tcp-check"

/// Every thread of this process: its name and CPU time, from /proc/self/task/*/{comm,schedstat} (nanoseconds on
/// the CPU). Read while the threads run: a thread that has ended is gone from the listing.
func threadCPUSeconds() -> [Int: (name: String, seconds: Double)] {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    var threads: [Int: (name: String, seconds: Double)] = [:]
    for task in tasks {
        guard let id = Int(task),
            let name = try? String(contentsOfFile: "/proc/self/task/\(task)/comm", encoding: .utf8),
            let stat = try? String(contentsOfFile: "/proc/self/task/\(task)/schedstat", encoding: .utf8),
            let nanoseconds = stat.split(separator: " ").first.flatMap({ Double($0) })
        else { continue }
        threads[id] = (name.trimmingCharacters(in: .whitespacesAndNewlines), nanoseconds / 1e9)
    }
    return threads
}

/// The calling thread's kernel ID, from /proc/thread-self (a link to PID/task/TID).
func currentThreadID() -> Int {
    let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
    return Int(target.split(separator: "/").last ?? "") ?? -1
}

/// User plus system CPU time of this process.
func processCPUSeconds() -> Double {
    var usage = rusage()
    getrusage(Int32(RUSAGE_SELF.rawValue), &usage)
    let user = Double(usage.ru_utime.tv_sec) + Double(usage.ru_utime.tv_usec) / 1e6
    let system = Double(usage.ru_stime.tv_sec) + Double(usage.ru_stime.tv_usec) / 1e6
    return user + system
}

/// Runs async work from the synchronous command and waits for it.
func blockingAwait<T: Sendable>(_ body: @escaping @Sendable () async -> T) -> T {
    let box = ResultBox<T>()
    Task {
        box.set(await body())
    }
    return box.wait()
}
