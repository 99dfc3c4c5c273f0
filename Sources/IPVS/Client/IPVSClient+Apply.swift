import Dispatch
import Synchronization

extension IPVSClient {
    /// Applies `operations` in order, packing them into as few `sendmsg` calls as the socket buffers allow.
    ///
    /// The kernel runs every operation even when an earlier one fails; the result says which failed and why.
    /// Operations refused before sending (bad input) are reported the same way and never reach the kernel.
    /// A long list goes through ``applyStreaming(_:)``: encoded on this thread while a second one waits for
    /// the kernel on the previous batch (a netlink `sendmsg` executes the requests in the sender's context,
    /// so encoding on the same thread would add its whole cost to the kernel's).
    /// - Parameter progress: called after each batch with (operations done, total).
    public func apply(_ operations: [IPVSOperation], progress: ((Int, Int) -> Void)? = nil) -> BulkApplyResult {
        guard operations.count >= Self.pipelineThreshold else {
            var run = ApplyRun(operations: operations, progress: progress)
            while run.next < operations.count {
                applyBatch(&run)
            }
            run.failures.sort { $0.index < $1.index }
            return BulkApplyResult(operationCount: operations.count, failures: run.failures, sendCalls: run.sendCalls)
        }
        var result = BulkApplyResult(operationCount: operations.count, failures: [], sendCalls: 0)
        func collect(_ batches: [AppliedBatch]) {
            for batch in batches {
                result.failures += batch.result.failures.map { failure in
                    var failure = failure
                    failure.index += batch.offset
                    return failure
                }
                result.sendCalls += batch.result.sendCalls
                progress?(batch.offset + batch.operations.count, operations.count)
            }
        }
        // In slices, so finished batches are collected (and progress reported) while later ones are encoded.
        let rest = applyStreaming { stream in
            var start = 0
            while start < operations.count {
                let end = min(start + Self.pipelineThreshold, operations.count)
                collect(stream.submit(Array(operations[start..<end])))
                start = end
            }
        }
        collect(rest)
        return result
    }

    /// Below this many operations, a second thread costs more than encoding does.
    static let pipelineThreshold = 512

    /// Applies operations while `body` produces them: this thread plans, encodes and records between
    /// `submit` calls while a second thread sends each full batch and waits for the kernel's answers, so
    /// producing overlaps the kernel's work. Outcomes are those of ``apply(_:progress:)``; a batch the socket
    /// fails on is reported with the socket's error for every operation it left unanswered, and the next
    /// batch reopens the socket.
    public func applyStreaming(_ body: (ApplyStream) -> Void) -> [AppliedBatch] {
        let stream: ApplyStream
        do throws(IPVSError) {
            let encoder = try withSocket { (socket, _) throws(IPVSError) in BatchEncoder(socket: socket) }
            let pipeline = StreamPipeline(
                encoder: encoder,
                reserveBlock: { [self] in reserveSequences(StreamPipeline.sequenceBlockSize) },
                transmit: { [self] batch in transmit(batch) }
            )
            stream = ApplyStream(pipeline: pipeline)
        } catch {
            stream = ApplyStream(unavailable: error)
        }
        return ApplyStream.run(stream, body)
    }

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

    /// Sends one batch of a stream (encoded from its own operations, so indices are the batch's own).
    private func transmit(_ batch: StreamBatch) -> BulkApplyResult {
        var run = ApplyRun(operations: batch.operations, progress: nil)
        do throws(IPVSError) {
            try withSocket { (socket, _) throws(IPVSError) in try send(batch.request, on: socket, &run) }
        } catch {
            run.unknownOutcome(from: 0, error: error)
        }
        run.failures.sort { $0.index < $1.index }
        return BulkApplyResult(operationCount: batch.operations.count, failures: run.failures, sendCalls: run.sendCalls)
    }

    /// Sends one encoded batch and collects an acknowledgement for each of its requests.
    private func send(_ batch: RequestBatch, on socket: NetlinkSocket, _ run: inout ApplyRun) throws(IPVSError) {
        run.failures += batch.refused
        run.next = batch.end
        if !batch.indices.isEmpty {
            try socket.send(batch.bytes)
            run.sendCalls += 1
            try socket.acknowledgements(
                of: batch.indices.count,
                from: batch.firstSequence,
                timeoutMilliseconds: timeoutMilliseconds
            ) { offset, errno in
                let index = batch.indices[offset]
                let operation = run.operations[index]
                run.failures.append(
                    .init(index: index, operation: operation, error: .kernel(errno: errno, operation: operation))
                )
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
