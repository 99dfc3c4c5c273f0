import Foundation
import IPVS
import IPVSAdmin
import Synchronization
import Testing

/// An in-memory ``IPVSKernel`` with the kernel's errnos (ESRCH, EEXIST, ENOENT), for fast tests.
final class FakeKernel: IPVSKernel {
    private let table = Mutex(IPVSTable())
    /// Schedulers the fake kernel "has"; others fail with ENOENT like a missing module.
    let schedulers: Set<String> = [
        "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
    ]
    let version = IPVSInfo(versionCode: 0x010201, connectionTableSize: 4096)
    /// Every operation applied, in order.
    let log = Mutex<[IPVSOperation]>([])

    init(_ operations: [IPVSOperation] = []) {
        _ = apply(operations, progress: nil)
        log.withLock { $0.removeAll() }
    }

    func apply(_ operations: [IPVSOperation], progress: ((Int, Int) -> Void)?) -> BulkApplyResult {
        var failures: [BulkApplyResult.Failure] = []
        for (index, operation) in operations.enumerated() {
            log.withLock { $0.append(operation) }
            do throws(IPVSError) {
                switch operation {
                case .addService(let vs), .updateService(let vs):
                    if !schedulers.contains(vs.scheduler.rawValue) {
                        throw IPVSError(.schedulerUnavailable, "no scheduler", operation: operation, errno: ENOENT)
                    }
                case .startDaemon:
                    throw IPVSError(.invalidArgument, "no multicast", operation: operation, errno: EINVAL)
                default: break
                }
                try table.withLock { (t: inout IPVSTable) throws(IPVSError) in try t.apply(operation) }
            } catch {
                failures.append(.init(index: index, operation: operation, error: error))
            }
        }
        progress?(operations.count, operations.count)
        return BulkApplyResult(operationCount: operations.count, failures: failures, sendCalls: 1)
    }

    func services() throws(IPVSError) -> [ObservedVirtualServer] {
        table.withLock { $0.snapshot.map(\.service) }
    }

    func service(_ id: VirtualServer.ID) throws(IPVSError) -> ObservedVirtualServer {
        guard let found = table.withLock({ $0.snapshot.first { $0.service.virtualServer.id == id } }) else {
            throw IPVSError(.notFound, "no service", errno: ESRCH)
        }
        return found.service
    }

    func servers(of id: VirtualServer.ID) throws(IPVSError) -> [ObservedRealServer] {
        guard let found = table.withLock({ $0.snapshot.first { $0.service.virtualServer.id == id } }) else {
            throw IPVSError(.notFound, "no service", errno: ESRCH)
        }
        return found.servers
    }

    func timeouts() throws(IPVSError) -> Timeouts { table.withLock { $0.timeouts } }
    func daemons() throws(IPVSError) -> [SyncDaemon] { table.withLock { $0.daemons } }
    func info() throws(IPVSError) -> IPVSInfo { version }
}

/// A fixed `/etc/hosts` and `/etc/services`, so name output is deterministic.
struct FixtureResolver: NameResolver {
    static let services: [(String, UInt16, IPProtocol)] = [
        ("http", 80, .tcp), ("http", 80, .udp), ("https", 443, .tcp), ("https", 443, .udp), ("domain", 53, .tcp),
        ("domain", 53, .udp), ("mdns", 5353, .udp),
    ]

    func ipv4Address(ofHost name: String) -> IPAddress? {
        name == "localhost" ? IPAddress("127.0.0.1") : name == "www.example" ? IPAddress("192.0.2.80") : nil
    }

    func port(ofService name: String, protocol: IPProtocol) -> UInt16? {
        Self.services.first { $0.0 == name && $0.2 == `protocol` }?.1
    }

    func hostName(of address: IPAddress) -> String? {
        address == IPAddress("127.0.0.1") ? "localhost" : nil
    }

    func serviceName(ofPort port: UInt16, protocol: IPProtocol) -> String? {
        Self.services.first { $0.1 == port && $0.2 == `protocol` }?.0
    }
}

/// One command of the reference transcript recorded from ipvsadm 1.31 on Linux 6.1.
struct ReferenceCase: CustomTestStringConvertible, Sendable {
    var arguments: [String]
    var stdout: String
    var stderr: String
    var status: Int32
    var testDescription: String { arguments.joined(separator: " ") }

    static func load(_ name: String) -> [ReferenceCase] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)")
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { return [] }
        var cases: [ReferenceCase] = []
        var current: ReferenceCase?
        var section = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("=== ") {
                if let current { cases.append(current) }
                let args = line.dropFirst(4).split(separator: " ").map(String.init)
                current = ReferenceCase(arguments: args, stdout: "", stderr: "", status: 0)
                section = ""
            } else if line == "--- stdout" {
                section = "out"
            } else if line == "--- stderr" {
                section = "err"
            } else if line.hasPrefix("--- rc ") {
                current?.status = Int32(line.dropFirst(7)) ?? -1
                section = ""
            } else if section == "out" {
                current?.stdout += line + "\n"
            } else if section == "err" {
                current?.stderr += line + "\n"
            }
        }
        if let current { cases.append(current) }
        return cases
    }
}
