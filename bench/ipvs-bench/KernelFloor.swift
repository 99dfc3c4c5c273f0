import Foundation
import IPVS
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The kernel's floor for programming: the workload's requests encoded before the clock starts, then only
/// `sendmsg` of full batches and the reads of their acknowledgements, on a bare generic-netlink socket.
///
/// The library's encoder is internal, so this file carries a minimal encoder of its own for the two
/// requests the workload needs (IPVS_CMD_NEW_SERVICE, IPVS_CMD_NEW_DEST), with the library's batch limits.
final class KernelFloor {
    private let descriptor: Int32
    private let familyID: UInt16
    private let maximumBatchBytes: Int
    private let maximumBatchMessages: Int

    /// Opens the socket inside `namespace` (on a short-lived thread: namespaces are per thread).
    init(namespace: NetworkNamespaceHandle, bufferSize: Int = 4 << 20) throws {
        let box = DescriptorBox()
        let thread = Thread {
            let fd: Int32
            if enterNetworkNamespace(namespace.fileDescriptor) != 0 {
                fd = -errno
            } else {
                let socketFD = socket(AF_NETLINK, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 16)
                fd = socketFD >= 0 ? socketFD : -errno
            }
            box.value.withLock { $0 = fd }
            box.done.signal()
        }
        thread.start()
        box.done.wait()
        let fd = box.value.withLock { $0 }
        guard fd >= 0 else { throw BenchError("floor: cannot open a netlink socket in the namespace (errno \(-fd))") }
        descriptor = fd
        var value = Int32(clamping: bufferSize)
        let size = socklen_t(MemoryLayout<Int32>.size)
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &value, size)
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &value, size)
        var one: Int32 = 1
        _ = setsockopt(fd, 270, 10, &one, size)  // SOL_NETLINK, NETLINK_CAP_ACK: acks without the request
        maximumBatchBytes = max(1, Self.option(fd, SO_SNDBUF) / 2)
        maximumBatchMessages = max(1, Self.option(fd, SO_RCVBUF) / 2048)
        familyID = try Self.resolveFamily(fd)
    }

    deinit { close(descriptor) }

    /// The workload's operations as ready-to-send datagrams, each within the library's batch limits.
    func encode(_ operations: [IPVSOperation]) throws -> [(bytes: [UInt8], messages: Int)] {
        var batches: [(bytes: [UInt8], messages: Int)] = []
        var writer = FloorWriter()
        var count = 0
        var sequence: UInt32 = 1
        for operation in operations {
            var message = FloorWriter()
            try message.request(operation, family: familyID, sequence: sequence)
            sequence &+= 1
            if count > 0, count >= maximumBatchMessages || writer.bytes.count + message.bytes.count > maximumBatchBytes
            {
                batches.append((writer.bytes, count))
                writer = FloorWriter()
                count = 0
            }
            writer.bytes += message.bytes
            count += 1
        }
        if count > 0 { batches.append((writer.bytes, count)) }
        return batches
    }

    /// Sends every batch and reads its acknowledgements; returns how many the kernel refused.
    func send(_ batches: [(bytes: [UInt8], messages: Int)]) throws -> Int {
        var failures = 0
        var buffer = [UInt8](repeating: 0, count: 256 * 1024)
        for batch in batches {
            let sent = batch.bytes.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, $0.count, 0) }
            guard sent == batch.bytes.count else { throw BenchError("floor: send failed (errno \(errno))") }
            var acknowledged = 0
            while acknowledged < batch.messages {
                let received = buffer.withUnsafeMutableBytes { recv(descriptor, $0.baseAddress, $0.count, 0) }
                guard received > 0 else { throw BenchError("floor: recv failed (errno \(errno))") }
                var offset = 0
                while offset + 20 <= received {
                    let length = Int(buffer.load32(at: offset))
                    let type = UInt16(buffer[offset + 4]) | UInt16(buffer[offset + 5]) << 8
                    if type == 2 {  // NLMSG_ERROR: an acknowledgement, error code 0 on success
                        acknowledged += 1
                        if buffer.load32(at: offset + 16) != 0 { failures += 1 }
                    }
                    guard length >= 16 else { break }
                    offset += (length + 3) & ~3
                }
            }
        }
        return failures
    }

    private static func option(_ fd: Int32, _ name: Int32) -> Int {
        var value: Int32 = 0
        var length = socklen_t(MemoryLayout<Int32>.size)
        return getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 ? Int(value) : 0
    }

    /// CTRL_CMD_GETFAMILY "IPVS" to the generic-netlink controller; reads CTRL_ATTR_FAMILY_ID.
    private static func resolveFamily(_ fd: Int32) throws -> UInt16 {
        var writer = FloorWriter()
        writer.message(type: 0x10, command: 3, version: 1, sequence: 0) { w in
            w.attribute(2, Array("IPVS".utf8) + [0])
        }
        _ = writer.bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
        var buffer = [UInt8](repeating: 0, count: 16 * 1024)
        let received = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard received > 20 else { throw BenchError("floor: no reply resolving the IPVS family") }
        var offset = 20  // nlmsghdr + genlmsghdr
        while offset + 4 <= received {
            let length = Int(UInt16(buffer[offset]) | UInt16(buffer[offset + 1]) << 8)
            let type = UInt16(buffer[offset + 2]) | UInt16(buffer[offset + 3]) << 8
            if type == 1, length >= 6 { return UInt16(buffer[offset + 4]) | UInt16(buffer[offset + 5]) << 8 }
            guard length >= 4 else { break }
            offset += (length + 3) & ~3
        }
        throw BenchError("floor: the kernel has no IPVS generic-netlink family")
    }
}

private final class DescriptorBox: Sendable {
    let value = Mutex<Int32>(-1)
    let done = DispatchSemaphore(value: 0)
}

extension [UInt8] {
    fileprivate func load32(at offset: Int) -> UInt32 {
        UInt32(self[offset]) | UInt32(self[offset + 1]) << 8 | UInt32(self[offset + 2]) << 16
            | UInt32(self[offset + 3]) << 24
    }
}

/// setns(fd, CLONE_NEWNET) for the calling thread; Glibc's Swift module hides setns (it needs _GNU_SOURCE).
private func enterNetworkNamespace(_ descriptor: Int32) -> Int32 {
    typealias SetNS = @convention(c) (Int32, Int32) -> Int32
    guard let symbol = dlsym(nil, "setns") else { return -1 }  // nil is RTLD_DEFAULT
    return unsafeBitCast(symbol, to: SetNS.self)(descriptor, 0x4000_0000)  // CLONE_NEWNET
}

/// The kernel's floor and one full table read for the workload, `runs` times, each in a namespace of its
/// own: the denominator of the exec-to-ready ratios (`api`, `agent-memory`).
func kernelFloorAndRead(
    _ workload: Workload,
    runs: Int,
    context: String
) throws -> (floors: [Double], reads: [Double]) {
    let operations = workload.operations
    var floors: [Double] = []
    var reads: [Double] = []
    for _ in 0..<runs {
        let ns = try NetworkNamespaceHandle.createFresh()
        try runInNamespace(ns, ["ip", "link", "set", "lo", "up"])  // as the kernel bench prepares its own
        let floor = try KernelFloor(namespace: ns)
        let batches = try floor.encode(operations)
        var failures = 0
        floors.append(try measure { failures = try floor.send(batches) }.milliseconds)
        guard failures == 0 else { throw BenchError("\(context): the kernel refused \(failures) floor operations") }
        // Two confirming re-reads of the service listing, as in every run recorded before the library's
        // default became three (2026-12-02): the denominator of the exec-to-ready ratios stays the same work.
        let client = try IPVSClient(configuration: .init(namespace: ns.namespace, listingConfirmations: 2))
        var entries = 0
        reads.append(try measure { entries = try readWholeTable(client) }.milliseconds)
        guard entries == operations.count else {
            throw BenchError("\(context): read \(entries) entries, the floor programmed \(operations.count)")
        }
        try runInNamespace(ns, ["ipvsadm", "-C"])
    }
    return (floors, reads)
}

/// Empties the IPVS table of the bench's own namespace, where the agent ran: ipvsd leaves its rules in place
/// when it stops, and IPVS hashes every namespace's services into one global table of 256 buckets, so the
/// agent's services left behind would lengthen the chains the after-floor's adds search and add entries its
/// read walks past (the after-reads were up to 1.8x the before-reads until 2026-12-03): the floor after the
/// agent must run on the same empty kernel as the floor before it.
func clearAgentTable() throws {
    try runSpawned(["/usr/bin/env", "ipvsadm", "-C"], context: "clearing the agent's IPVS table")
}

/// The floor and read of ``kernelFloorAndRead``, measured once before the agent runs and once after it.
/// The VM's speed drifts by 20-30 % over a bench of several minutes; with only the first measurement, the
/// ratio of one build moved from 1.3x to 1.8x between two runs. Bracketing the agent lets the drift move both
/// sides of the ratio.
struct FloorBracket {
    var before: (floors: [Double], reads: [Double])
    var after: (floors: [Double], reads: [Double]) = ([], [])

    /// The floor + read sums, before then after.
    var sums: [Double] { zip(before.floors, before.reads).map(+) + zip(after.floors, after.reads).map(+) }
}

extension BenchRun {
    /// The floor and read rows (before and after the agent), then exec to ready over each floor + read sum,
    /// with the bar judged on the median of those ratios.
    mutating func addReadyOverFloor(
        _ group: String,
        readyMilliseconds: Double,
        bracket: FloorBracket,
        bar: String
    ) {
        add(group, "kernel floor (pre-encoded batches)", "ms", bracket.before.floors)
        add(group, "full table read (IPVS library: services + servers of each)", "ms", bracket.before.reads)
        if !bracket.after.floors.isEmpty {
            add(group, "kernel floor again, after the agent ran", "ms", bracket.after.floors)
            add(group, "full table read again, after the agent ran", "ms", bracket.after.reads)
        }
        let ratios = bracket.sums.map { readyMilliseconds / $0 }
        let verdict = IPVSBenchStats.median(ratios) <= 1.5 ? "met" : "missed"
        add(
            group,
            "exec to ready / (kernel floor + one full table read)",
            "x",
            ratios,
            note: "\(bar); \(verdict) in this run (median)"
                + (bracket.after.floors.isEmpty ? "" : "; against each floor + read, before the agent then after it")
        )
    }
}
