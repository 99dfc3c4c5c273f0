import Dispatch
import Synchronization

/// Operations of a streaming apply that the kernel has finished, with what it said of each.
public struct AppliedBatch: Sendable {
    /// Position of `operations[0]` among everything submitted to the stream.
    public var offset: Int
    public var operations: [IPVSOperation]
    /// Failures indexed within `operations` (as a bulk apply of `operations` alone would report them).
    public var result: BulkApplyResult

    public init(offset: Int, operations: [IPVSOperation], result: BulkApplyResult) {
        self.offset = offset
        self.operations = operations
        self.result = result
    }
}

/// The caller's end of a streaming apply (``IPVSKernel/applyStreaming(_:)``): operations go in with
/// `submit` as they are produced, in order, and finished batches come back from it.
///
/// With ``IPVSClient`` the caller's thread encodes and a second thread sends: the kernel runs batch N (a
/// netlink `sendmsg` executes the requests in the sender's context) while the caller produces, encodes and
/// records around it. Outcomes are exactly those of ``IPVSClient/apply(_:progress:)``: every operation
/// is attempted, in order, even after a failure; each failure is reported with its own error. At most
/// ``queueCapacity`` encoded batches wait for the kernel: `submit` blocks while the queue is full.
/// Not thread-safe: one producer, the thread that called `applyStreaming`.
public final class ApplyStream {
    /// Encoded batches that may wait for the sending thread: the stream's memory budget beyond one batch
    /// being encoded and one being sent.
    public static let queueCapacity = 4

    fileprivate enum Mode {
        /// Collects everything; the kernel gets it as one list at the end (the default for any kernel).
        case buffered(apply: ([IPVSOperation]) -> BulkApplyResult)
        /// Applies each submitted list at once, on the caller's thread.
        case immediate(apply: ([IPVSOperation]) -> BulkApplyResult)
        case pipelined(StreamPipeline)
        /// No socket: every operation fails with this error.
        case unavailable(IPVSError)
    }

    private let mode: Mode
    private var pending: [IPVSOperation] = []
    /// Stream position of `pending[0]`.
    private var pendingOffset = 0
    private var finished = false
    /// Operations submitted so far.
    public private(set) var submitted = 0
    /// The sending thread starts with the first full batch; a stream shorter than one batch (a sync that
    /// changes a few things) is sent on the caller's thread at the end and never pays for a thread.
    private var senderStarted = false

    /// Runs `body` on a stream that applies each submitted list with `apply` as it comes, on this thread,
    /// and returns the batches still open at the end (none): for a kernel without a pipeline of its own
    /// that wants callers to record between steps, and for tests of such callers.
    public static func applyingAsSubmitted(
        _ apply: @escaping ([IPVSOperation]) -> BulkApplyResult,
        _ body: (ApplyStream) -> Void
    ) -> [AppliedBatch] {
        run(ApplyStream(mode: .immediate(apply: apply)), body)
    }

    /// Runs `body`, then finishes the stream: what every `applyStreaming` does.
    static func run(_ stream: ApplyStream, _ body: (ApplyStream) -> Void) -> [AppliedBatch] {
        body(stream)
        return stream.finish()
    }

    convenience init(pipeline: StreamPipeline) { self.init(mode: .pipelined(pipeline)) }

    convenience init(unavailable error: IPVSError) { self.init(mode: .unavailable(error)) }

    fileprivate init(mode: Mode) { self.mode = mode }

    /// Hands operations over, after all submitted before; returns the batches finished since the last call
    /// (in order), so the caller can record them while the kernel works on later ones.
    public func submit(_ operations: [IPVSOperation]) -> [AppliedBatch] {
        precondition(!finished, "ApplyStream.submit after the stream finished")
        pending += operations
        submitted += operations.count
        switch mode {
        case .buffered:
            return []
        case .immediate(let apply):
            let batch = AppliedBatch(offset: pendingOffset, operations: pending, result: apply(pending))
            pendingOffset += pending.count
            pending = []
            return [batch]
        case .unavailable(let error):
            return [failAll(error)]
        case .pipelined(let pipeline):
            while pending.count >= pipeline.encoder.maximumMessages {
                let batch = encodeBatch(for: pipeline)
                if !senderStarted {
                    senderStarted = true
                    pipeline.startSender()
                }
                pipeline.queue.put(batch)  // waits while the queue is full: the stream's backpressure
            }
            return pipeline.takeCompleted()
        }
    }

    /// Sends what is left, waits for the kernel and returns the batches not yet returned, in order.
    func finish() -> [AppliedBatch] {
        precondition(!finished, "ApplyStream.finish twice")
        defer { finished = true }
        switch mode {
        case .buffered(let apply), .immediate(let apply):
            guard !pending.isEmpty else { return [] }
            let operations = pending
            pending = []
            return [AppliedBatch(offset: pendingOffset, operations: operations, result: apply(operations))]
        case .unavailable(let error):
            return pending.isEmpty ? [] : [failAll(error)]
        case .pipelined(let pipeline):
            while !pending.isEmpty {
                let batch = encodeBatch(for: pipeline)
                if senderStarted { pipeline.queue.put(batch) } else { pipeline.send(batch) }
            }
            if senderStarted { pipeline.finishSender() }
            return pipeline.takeCompleted()
        }
    }

    /// Encodes the next batch from `pending` and takes its operations out.
    private func encodeBatch(for pipeline: StreamPipeline) -> StreamBatch {
        let sequence = pipeline.reserveSequence(min(pending.count, pipeline.encoder.maximumMessages))
        let request = pipeline.encoder.batch(of: pending, from: 0, sequence: sequence)
        let operations = Array(pending[..<request.end])
        pending.removeFirst(request.end)
        defer { pendingOffset += operations.count }
        return StreamBatch(offset: pendingOffset, operations: operations, request: request)
    }

    private func failAll(_ error: IPVSError) -> AppliedBatch {
        var run = ApplyRun(operations: pending, progress: nil)
        run.unknownOutcome(from: 0, error: error)
        let batch = AppliedBatch(
            offset: pendingOffset,
            operations: pending,
            result: BulkApplyResult(operationCount: pending.count, failures: run.failures, sendCalls: 0)
        )
        pendingOffset += pending.count
        pending = []
        return batch
    }
}

/// An encoded batch of a stream and the operations behind it.
struct StreamBatch: Sendable {
    var offset: Int
    var operations: [IPVSOperation]
    var request: RequestBatch
}

/// Moves a stream's encoded batches to the kernel on a second thread, one at a time, in order.
final class StreamPipeline: Sendable {
    /// Sends one batch (its requests numbered from `request.firstSequence`) and returns its outcome, failures
    /// indexed within the batch's operations, refused ones included.
    typealias Transmit = @Sendable (StreamBatch) -> BulkApplyResult

    let encoder: BatchEncoder
    let transmit: Transmit
    let queue = BatchQueue<StreamBatch>(capacity: ApplyStream.queueCapacity)
    private let reserveBlock: @Sendable () -> UInt32
    private let sequences = Mutex(SequenceBlock())
    private let completed = Mutex<[AppliedBatch]>([])
    private let senderDone = DispatchSemaphore(value: 0)

    /// Sequence numbers reserved from the client in blocks, so encoding never waits for the socket's lock
    /// (which the sending thread holds while the kernel works).
    private struct SequenceBlock {
        var next: UInt32 = 0
        var left = 0
    }

    static let sequenceBlockSize = 1 << 20

    /// - Parameter reserveBlock: reserves ``sequenceBlockSize`` sequence numbers and returns the first.
    init(encoder: BatchEncoder, reserveBlock: @escaping @Sendable () -> UInt32, transmit: @escaping Transmit) {
        self.encoder = encoder
        self.reserveBlock = reserveBlock
        self.transmit = transmit
    }

    /// `count` consecutive sequence numbers (refused operations leave gaps nobody answers).
    func reserveSequence(_ count: Int) -> UInt32 {
        precondition(count <= Self.sequenceBlockSize)
        if sequences.withLock({ $0.left < count }) {
            let first = reserveBlock()
            sequences.withLock { $0 = SequenceBlock(next: first, left: Self.sequenceBlockSize) }
        }
        return sequences.withLock { block in
            let first = block.next
            block.next &+= UInt32(truncatingIfNeeded: count)
            block.left -= count
            return first
        }
    }

    /// Starts the sending thread, which takes batches until the queue finishes.
    func startSender() {
        Self.sendingQueue.async { [self] in
            while let batch = queue.take() { send(batch) }
            senderDone.signal()
        }
    }

    /// Sends one batch on this thread and keeps its outcome.
    func send(_ batch: StreamBatch) {
        let result = transmit(batch)
        completed.withLock {
            $0.append(AppliedBatch(offset: batch.offset, operations: batch.operations, result: result))
        }
    }

    /// Tells the sender nothing more comes and waits until it has sent everything queued.
    func finishSender() {
        queue.finish()
        senderDone.wait()
    }

    /// The batches finished so far, in order (one sender finishes them in queue order).
    func takeCompleted() -> [AppliedBatch] {
        completed.withLock { batches in
            defer { batches.removeAll() }
            return batches
        }
    }

    /// Where the sender runs: a private serial queue is overcommitting, so it gets a thread even when every
    /// worker of the global queues is busy (or blocked, as the caller is while the queue is full).
    private static let sendingQueue = DispatchQueue(label: "IPVSClient.applyStreaming.sender", qos: .userInitiated)
}

extension IPVSKernel {
    /// Applies operations while `body` produces them: `body` calls ``ApplyStream/submit(_:)`` in order and
    /// gets finished batches back; the batches still open when it returns are returned here, in order.
    /// Every submitted operation appears in exactly one returned batch.
    ///
    /// This default buffers everything and makes one ``apply(_:progress:)`` call at the end; ``IPVSClient``
    /// overlaps producing with the kernel's work.
    public func applyStreaming(_ body: (ApplyStream) -> Void) -> [AppliedBatch] {
        ApplyStream.run(ApplyStream(mode: .buffered(apply: { apply($0, progress: nil) })), body)
    }
}
