import ArgumentParser
import Foundation
import IPVS

@main
struct IPVSBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ipvs-bench",
        abstract: "Measure programming and listing speed against ipvsadm, as ratios from the same run.",
        discussion: """
            Each contender programs the same synthetic cluster (SERVICES virtual services x SERVERS real \
            servers, NAT, round robin) into its own fresh network namespace, then lists it back. Reported: \
            the median over RUNS of each, and each contender's ratio to ipvsadm. Absolute times on shared or \
            emulated machines are noise; the ratios are the result.

            Needs root and a kernel with IPVS. Without one, run it in the project's VM:
              Tests/vm/run -- .build/release/ipvs-bench --services 1000 --servers 2
            """
    )

    @Option(help: "Virtual services to program.") var services = 1000
    @Option(help: "Real servers per virtual service.") var servers = 2
    @Option(help: "Repetitions; the median is reported.") var runs = 3
    @Option(help: "Also time this ipvsctl binary's `-R` (restore).") var ipvsctl: String?

    func validate() throws {
        guard services > 0, services <= 65536 else { throw ValidationError("--services must be 1...65536") }
        guard servers >= 0, servers <= 64 else { throw ValidationError("--servers must be 0...64") }
        guard runs > 0 else { throw ValidationError("--runs must be positive") }
    }

    func run() throws {
        let workload = Workload(services: services, servers: servers)
        let operations = workload.operations
        let rules = workload.ipvsadmRules
        var samples: [String: [Double]] = [:]
        var sendCalls = 0
        for run in 1...runs {
            print("run \(run)/\(runs): \(operations.count) operations")
            let peer = try freshNamespace()
            samples["program: ipvsadm -R", default: []].append(
                try measure { try runInNamespace(peer, ["ipvsadm", "-R"], input: rules) }.milliseconds
            )
            samples["list: ipvsadm -Sn", default: []].append(
                try measure { try runInNamespace(peer, ["ipvsadm", "-Sn"]) }.milliseconds
            )

            let ours = try freshNamespace()
            let client = try IPVSClient(configuration: .init(namespace: ours.namespace))
            var result: BulkApplyResult?
            samples["program: IPVS library bulk apply", default: []].append(
                measure { result = client.apply(operations) }.milliseconds
            )
            if let failure = result?.failures.first { throw BenchError("bulk apply failed: \(failure.error)") }
            sendCalls = result?.sendCalls ?? 0
            samples["list: IPVS library dump", default: []].append(
                try measure {
                    for service in try client.services() { _ = try client.servers(of: service.virtualServer.id) }
                }.milliseconds
            )

            if let ipvsctl {
                let third = try freshNamespace()
                samples["program: ipvsctl -R", default: []].append(
                    try measure { try runInNamespace(third, [ipvsctl, "-R"], input: rules) }.milliseconds
                )
                samples["list: ipvsctl -Sn", default: []].append(
                    try measure { try runInNamespace(third, [ipvsctl, "-Sn"]) }.milliseconds
                )
            }
        }
        report(samples, sendCalls: sendCalls, operations: operations.count)
    }

    /// A new namespace with loopback up: without it the kernel refuses NAT destinations as "not unicast".
    func freshNamespace() throws -> NetworkNamespaceHandle {
        let namespace = try NetworkNamespaceHandle.createFresh()
        try runInNamespace(namespace, ["ip", "link", "set", "lo", "up"])
        return namespace
    }

    func report(_ samples: [String: [Double]], sendCalls: Int, operations: Int) {
        print("\n\(services) services x \(servers) servers = \(operations) operations; median of \(runs) runs")
        print("bulk apply used \(sendCalls) sendmsg calls for \(operations) operations")
        for kind in ["program", "list"] {
            let baseline = median(samples["\(kind): ipvsadm \(kind == "program" ? "-R" : "-Sn")"] ?? [])
            for (name, values) in samples.sorted(by: { $0.key < $1.key }) where name.hasPrefix(kind) {
                let value = median(values)
                let ratio = value > 0 ? baseline / value : 0
                let padded = name.padding(toLength: 36, withPad: " ", startingAt: 0)
                print(
                    "\(padded) \(String(format: "%10.1f", value)) ms   \(String(format: "%6.2f", ratio))x ipvsadm's speed"
                )
            }
        }
    }
}
