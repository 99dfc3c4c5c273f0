/// The bulk-apply encoder without a socket, for the benchmark harness (`ipvs-bench native`): the cost of
/// turning operations into netlink requests, apart from the kernel's.
@_spi(Benchmarks)
public enum IPVSRequestEncoding {
    /// Encodes `operations` into batches exactly as `apply` does (with the given batch limits); returns the
    /// total size in bytes.
    /// - Throws: the first operation refused before sending, as `apply` would report it.
    public static func encode(
        _ operations: [IPVSOperation],
        familyID: UInt16 = 0x1E,
        batchBytes: Int = 1 << 20,
        batchMessages: Int = 2048
    ) throws(IPVSError) -> Int {
        let encoder = BatchEncoder(familyID: familyID, maximumBytes: batchBytes, maximumMessages: batchMessages)
        var total = 0
        var start = 0
        var sequence: UInt32 = 1
        while start < operations.count {
            let batch = encoder.batch(of: operations, from: start, sequence: sequence)
            if let refused = batch.refused.first { throw refused.error }
            total += batch.bytes.count
            sequence &+= UInt32(truncatingIfNeeded: batch.indices.count)
            start = batch.end
        }
        return total
    }
}
