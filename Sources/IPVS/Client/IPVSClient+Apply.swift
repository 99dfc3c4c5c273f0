import Dispatch
import Synchronization

extension IPVSClient {
    /// Applies `operations` in order, packing them into as few `sendmsg` calls as the socket buffers allow.
    ///
    /// The kernel runs every operation even when an earlier one fails; the result says which failed and why.
    /// Operations refused before sending (bad input) are reported the same way and never reach the kernel.
    /// A long list is encoded on a second thread while the kernel runs the previous batch: a netlink
    /// `sendmsg` executes the requests in the sender's context, so encoding on the same thread would add
    /// its whole cost to the kernel's.
    /// - Parameter progress: called after each batch with (operations done, total).
    public func apply(_ operations: [IPVSOperation], progress: ((Int, Int) -> Void)? = nil) -> BulkApplyResult {
        var run = ApplyRun(operations: operations, progress: progress)
        if operations.count >= Self.pipelineThreshold {
            applyPipelined(&run)
        }
        while run.next < operations.count {
            applyBatch(&run)
        }
        run.failures.sort { $0.index < $1.index }
        return BulkApplyResult(operationCount: operations.count, failures: run.failures, sendCalls: run.sendCalls)
    }

    /// Below this many operations, a second thread costs more than encoding does.
    static let pipelineThreshold = 512

    /// Where the producer runs: a private serial queue is overcommitting, so it gets a thread even when every
    /// worker of the global queues is busy (or blocked, as the caller is while it waits for batches).
    private static let encodingQueue = DispatchQueue(label: "IPVSClient.apply.encoder", qos: .userInitiated)

    /// Encodes, sends and acknowledges one batch on this thread.
    private func applyBatch(_ run: inout ApplyRun) {
        let start = run.next
        do throws(IPVSError) {
            try withSocket { (socket, sequence) throws(IPVSError) in
                let batch = BatchEncoder(socket: socket).batch(of: run.operations, from: start, sequence: sequence)
                sequence &+= UInt32(truncatingIfNeeded: batch.indices.count)
                try send(batch, on: socket, &run)
            }
        } catch {
            run.unknownOutcome(from: start, error: error)
        }
    }

    /// Applies batches while a producer thread encodes the next ones; stops at the first socket error (the
    /// rest then goes batch by batch, reopening the socket as `applyBatch` does).
    private func applyPipelined(_ run: inout ApplyRun) {
        var start = run.next
        do throws(IPVSError) {
            try withSocket { (socket, sequence) throws(IPVSError) in
                let queue = BatchQueue(capacity: 4)
                let encoder = BatchEncoder(socket: socket)
                let operations = run.operations
                let first = sequence
                // Reserve a sequence number for every operation; refused ones leave gaps nobody answers.
                sequence &+= UInt32(truncatingIfNeeded: operations.count - start)
                let from = start
                Self.encodingQueue.async {
                    var index = from
                    var next = first
                    while index < operations.count, !queue.isCancelled {
                        let batch = encoder.batch(of: operations, from: index, sequence: next)
                        next &+= UInt32(truncatingIfNeeded: batch.indices.count)
                        index = batch.end
                        queue.put(batch)
                    }
                    queue.finish()
                }
                defer { queue.cancelAndDrain() }
                while let batch = queue.take() {
                    start = batch.start
                    try send(batch, on: socket, &run)
                }
            }
        } catch {
            run.unknownOutcome(from: start, error: error)
        }
    }

    /// Sends one encoded batch and collects an acknowledgement for each of its requests.
    private func send(_ batch: RequestBatch, on socket: NetlinkSocket, _ run: inout ApplyRun) throws(IPVSError) {
        run.failures += batch.refused
        run.next = batch.end
        if !batch.indices.isEmpty {
            try socket.send(batch.bytes)
            run.sendCalls += 1
            var answered = [Bool](repeating: false, count: batch.indices.count)
            var remaining = batch.indices.count
            while remaining > 0 {
                try socket.receive(timeoutMilliseconds: timeoutMilliseconds) { (datagram) throws(IPVSError) in
                    try NetlinkMessage.forEachAcknowledgement(in: datagram) { sequence, errno in
                        // Stale replies of an earlier, timed-out request carry other sequence numbers: skip them.
                        let offset = Int(sequence &- batch.firstSequence)
                        guard offset < batch.indices.count, !answered[offset] else { return }
                        answered[offset] = true
                        remaining -= 1
                        guard errno != 0 else { return }
                        let index = batch.indices[offset]
                        let operation = run.operations[index]
                        run.failures.append(
                            .init(
                                index: index,
                                operation: operation,
                                error: .kernel(errno: errno, operation: operation)
                            )
                        )
                    }
                }
            }
        }
        run.progress?(run.next, run.operations.count)
    }
}

/// The bookkeeping of one `apply` call.
struct ApplyRun {
    let operations: [IPVSOperation]
    let progress: ((Int, Int) -> Void)?
    /// The first operation not yet in a sent batch.
    var next = 0
    var failures: [BulkApplyResult.Failure] = []
    var sendCalls = 0

    init(operations: [IPVSOperation], progress: ((Int, Int) -> Void)?) {
        self.operations = operations
        self.progress = progress
    }

    /// A batch from `start` on failed on the socket: its outcome is unknown, so every operation in it not
    /// yet answered is reported with the error. When nothing was sent (the socket cannot be opened), that
    /// is every operation left.
    mutating func unknownOutcome(from start: Int, error: IPVSError) {
        let end = next > start ? next : operations.count
        let answered = Set(failures.map(\.index))
        for unknown in start..<end where !answered.contains(unknown) {
            var failure = error
            failure.operation = operations[unknown]
            failure.message = "\(operations[unknown]): \(error.message)"
            failures.append(.init(index: unknown, operation: operations[unknown], error: failure))
        }
        next = end
    }
}
