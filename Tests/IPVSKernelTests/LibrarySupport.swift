import Foundation
import IPVS
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

// Helpers of the library's kernel tests. Nothing here formats or parses with the project's own code: the
// expectations are written by hand and ipvsadm's output is only split into lines and numbers.

extension KernelSandbox {
    /// Runs a shell script inside the namespace in one process (process starts are slow in the VM).
    @discardableResult
    func runShellScript(_ script: String) throws -> String {
        try run("sh", "-c", "set -e\n" + script)
    }

    /// Runs several `ipvsadm` invocations in one process and returns the output of each.
    func ipvsadmOutputs(_ invocations: [String]) throws -> [String] {
        let marker = "--8<-- ipvsadm --8<--"
        let script = invocations.map { "ipvsadm \($0)" }.joined(separator: "\necho '\(marker)'\n")
        let output = try runShellScript(script)
        return output.components(separatedBy: marker + "\n").map { $0 }
    }

    /// `ipvsadm -Sn`, as sorted lines without trailing blanks.
    func ipvsadmSaveLines() throws -> [String] {
        LibraryOracle.lines(try ipvsadm("-Sn"))
    }
}

enum LibraryOracle {
    /// Non-empty lines without trailing blanks, sorted: `-a` lines name their service, so order carries no
    /// information and ipvsadm's own sort order need not be reproduced.
    static func lines(_ text: String) -> [String] {
        text.split(separator: "\n")
            .map { String($0.reversed().drop { $0 == " " }.reversed()) }
            .filter { !$0.isEmpty }
            .sorted()
    }

    /// The counters of every row of an `ipvsadm -Ln` table (`--stats --exact`: 5 columns, `--thresholds`:
    /// 4), keyed by the row's label with single spaces: `TCP 10.96.0.10:80` for a service and
    /// `TCP 10.96.0.10:80 -> 10.77.0.2:8080` for a real server under it.
    static func table(_ text: String, columns: Int = 5) -> [String: [UInt64]] {
        var rows: [String: [UInt64]] = [:]
        var service = ""
        for line in text.split(separator: "\n") {
            let words = line.split(separator: " ").map(String.init)
            guard let first = words.first, ["TCP", "UDP", "SCTP", "FWM", "->"].contains(first) else { continue }
            let numbers = words.count > columns ? words.suffix(columns).compactMap { UInt64($0) } : []
            if first != "->" {
                service = words.prefix(2).joined(separator: " ")
                if first == "FWM", words.count > 2, words[2] == "IPv6" { service += " IPv6" }
            }
            guard numbers.count == columns else { continue }
            rows[first == "->" ? "\(service) -> \(words[1])" : service] = numbers
        }
        return rows
    }

    /// `Conns InPkts OutPkts InBytes OutBytes` of a library statistics value, in ipvsadm's column order.
    static func counters(_ statistics: Statistics) -> [UInt64] {
        [
            statistics.connections, statistics.incomingPackets, statistics.outgoingPackets,
            statistics.incomingBytes, statistics.outgoingBytes,
        ]
    }
}

/// Parent of every library suite. Serialized: a kernel dump of a big table is not atomic across network
/// namespaces (ip_vs_genl_dump_services resumes at a position counted over the services of *all*
/// namespaces), so another test adding or deleting services while a multi-part dump runs makes that dump
/// skip or repeat entries, in the library and in ipvsadm alike.
@Suite(.serialized, .enabled(if: KernelTests.enabled))
enum LibraryKernelTests {
    /// Reads until two consecutive reads agree (at most `attempts` reads), for listings of hundreds of entries that
    /// span several dump messages and could be skewed by a concurrent test in another namespace (see
    /// ``LibraryKernelTests``).
    static func stableRead<T: Equatable>(attempts: Int = 5, _ read: () throws -> T) rethrows -> T {
        var previous = try read()
        for _ in 1..<attempts {
            let next = try read()
            if next == previous { return next }
            previous = next
        }
        return previous
    }
}

/// The library suites conform to get short literals as members (members never clash with other files' globals).
protocol LibrarySuite {}

extension LibrarySuite {
    func ip(_ text: String) -> IPAddress {
        guard let address = IPAddress(text) else { fatalError("bad address literal \(text)") }
        return address
    }

    func tcp(_ address: String, _ port: UInt16) -> VirtualServer.ID { .service(.tcp, ip(address), port: port) }
    func udp(_ address: String, _ port: UInt16) -> VirtualServer.ID { .service(.udp, ip(address), port: port) }
    func sctp(_ address: String, _ port: UInt16) -> VirtualServer.ID { .service(.sctp, ip(address), port: port) }
}

extension IPVSClient {
    /// Every service with its real servers, as plain configuration (no counters), sorted by identity.
    func libraryConfiguration() throws -> [VirtualServer.ID: (VirtualServer, [RealServer])] {
        var result: [VirtualServer.ID: (VirtualServer, [RealServer])] = [:]
        for observed in try services() {
            let id = observed.virtualServer.id
            result[id] = (observed.virtualServer, try servers(of: id).map(\.realServer).sorted { $0.id < $1.id })
        }
        return result
    }

    /// Applies `operations` and records every failure as a test issue.
    func applyRecordingFailures(
        _ operations: [IPVSOperation],
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        let result = apply(operations)
        for failure in result.failures {
            Issue.record(
                "operation \(failure.index) (\(failure.operation)) failed: \(failure.error)",
                sourceLocation: sourceLocation
            )
        }
    }
}
