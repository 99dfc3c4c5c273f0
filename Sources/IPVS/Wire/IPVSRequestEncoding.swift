/// The bulk-apply encoder without a socket, for the benchmark harness (`ipvs-bench native`): the cost of
/// turning operations into netlink requests, apart from the kernel's.
@_spi(Benchmarks)
public enum IPVSRequestEncoding {
    /// Encodes `operations` into batches as `apply` does (a new buffer every `batchBytes`); returns the
    /// total size in bytes.
    public static func encode(
        _ operations: [IPVSOperation],
        familyID: UInt16 = 0x1E,
        batchBytes: Int = 1 << 20
    ) throws(IPVSError) -> Int {
        let encoder = IPVSEncoder(familyID: familyID)
        var writer = NetlinkWriter(reservingCapacity: batchBytes)
        var total = 0
        var sequence: UInt32 = 1
        for operation in operations {
            try encoder.encode(operation, sequence: sequence, into: &writer)
            sequence &+= 1
            if writer.bytes.count >= batchBytes {
                total += writer.bytes.count
                writer = NetlinkWriter(reservingCapacity: batchBytes)
            }
        }
        return total + writer.bytes.count
    }
}
