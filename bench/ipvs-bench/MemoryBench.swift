import ArgumentParser
import Foundation
import IPVS
import ServiceTables
import Synchronization

/// Resident memory of a process holding the agent's core state: steady, and the peak of a full resync.
///
/// Run as its own process so nothing else the bench did is in its heap.
struct MemoryBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "memory",
        abstract: "Resident size with LoadBalancerState at SERVICES x SERVERS, steady and during a full resync."
    )

    @Option(help: "Virtual services.") var services = 10000
    @Option(help: "Real servers per service.") var servers = 10
    @Option(help: "Where to write the JSON results.") var out = "bench/results/memory.json"

    func run() throws {
        var results = BenchRun(environment: "native", repetitions: 1)
        let group = "memory \(services)x\(servers)"
        let empty = residentKilobytes("VmRSS")
        let workload = Workload(services: services, servers: servers)
        var state = LoadBalancerState()
        do {
            // The desired state arrives, is planned and recorded as programmed; the inputs then go away.
            let changed = state.setDesired(workload.desiredState())
            let operations = state.plan(for: changed, now: .now)
            state.record(operations, result: .init(operationCount: operations.count, failures: [], sendCalls: 1))
        }
        let steady = residentKilobytes("VmRSS")
        // Writing 5 to clear_refs resets VmHWM, so the next peak is the resync's alone.
        try "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        do {
            // As the agent resyncs: the whole service listing, then each service's real servers just before
            // adopting it.
            let services = (0..<workload.services).map {
                ObservedVirtualServer(virtualServer: VirtualServer(id: workload.serviceID($0), scheduler: .roundRobin))
            }
            var adoption = state.beginAdoption(expecting: services.count)
            for (service, observed) in services.enumerated() {
                let servers = (0..<workload.servers).map {
                    ObservedRealServer(realServer: workload.realServer(service: service, server: $0))
                }
                state.adopt(observed, servers: servers, into: &adoption)
            }
            state.finishAdoption(adoption)
            let operations = state.plan(for: nil, now: .now)
            guard operations.isEmpty else { throw BenchError("resync planned \(operations.count) operations") }
        }
        let peak = residentKilobytes("VmHWM")
        let after = residentKilobytes("VmRSS")
        withExtendedLifetime(state) {}
        results.add(group, "VmRSS, empty process", "MB", [empty / 1024])
        results.add(group, "VmRSS, steady (desired + programmed)", "MB", [steady / 1024])
        results.add(group, "VmHWM, peak during full resync (service listing + adopt + plan)", "MB", [peak / 1024])
        results.add(group, "VmRSS, after the resync", "MB", [after / 1024])
        results.add(group, "peak / steady", "x", [steady > 0 ? peak / steady : 0])
        try results.write(to: URL(fileURLWithPath: out))
        print("steady \(steady / 1024) MB, resync peak \(peak / 1024) MB; wrote \(out)")
    }
}

/// A `/proc/self/status` field in kB.
func residentKilobytes(_ field: String) -> Double {
    let status = (try? String(contentsOfFile: "/proc/self/status", encoding: .utf8)) ?? ""
    for line in status.split(separator: "\n") where line.hasPrefix(field + ":") {
        return Double(line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first ?? "") ?? 0
    }
    return 0
}

/// Hands a value from a task to a waiting thread.
final class ResultBox<T: Sendable>: Sendable {
    private let value = Mutex<T?>(nil)
    private let ready = DispatchSemaphore(value: 0)

    func set(_ result: T) {
        value.withLock { $0 = result }
        ready.signal()
    }

    func wait() -> T {
        ready.wait()
        return value.withLock { $0! }
    }
}
