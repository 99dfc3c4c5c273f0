import Dispatch
import Synchronization
import Testing

@testable import IPVS

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// A value shared with the pipeline's escaping closures (a `Mutex` cannot be captured by one).
final class Shared<Value: Sendable>: Sendable {
    private let value: Mutex<Value>
    init(_ value: Value) { self.value = Mutex(value) }
    func with<R: Sendable>(_ body: (inout Value) -> R) -> R { value.withLock { body(&$0) } }
    var current: Value { with { $0 } }
}

/// The streaming apply's pipeline with a stand-in for the socket: order, per-operation outcomes, a producer
/// that gives up, and the bound on encoded batches waiting for the kernel.
@Suite struct ApplyStreamTests {
    /// What the stand-in kernel saw: every request sent, in order, with its sequence number.
    final class Wire: Sendable {
        struct Sent: Sendable {
            var operation: IPVSOperation
            var sequence: UInt32
        }
        let sent = Shared<[Sent]>([])
        /// Operations the kernel refuses, with their errno.
        let refuse: @Sendable (IPVSOperation) -> Int32?

        init(refuse: @escaping @Sendable (IPVSOperation) -> Int32? = { _ in nil }) { self.refuse = refuse }

        /// Answers a batch as the kernel and `IPVSClient.send` do: refused-before-sending ones as encoded,
        /// then a kernel error for each sent request the kernel refuses.
        func transmit(_ batch: StreamBatch) -> BulkApplyResult {
            var failures = batch.request.refused
            for (offset, index) in batch.request.indices.enumerated() {
                let operation = batch.operations[index]
                sent.with {
                    $0.append(Sent(operation: operation, sequence: batch.request.firstSequence &+ UInt32(offset)))
                }
                if let errno = refuse(operation) {
                    failures.append(
                        .init(index: index, operation: operation, error: .kernel(errno: errno, operation: operation))
                    )
                }
            }
            failures.sort { $0.index < $1.index }
            return BulkApplyResult(
                operationCount: batch.operations.count,
                failures: failures,
                sendCalls: batch.request.indices.isEmpty ? 0 : 1
            )
        }
    }

    static func pipeline(maximumMessages: Int, transmit: @escaping StreamPipeline.Transmit) -> StreamPipeline {
        let next = Shared<UInt32>(100)
        return StreamPipeline(
            encoder: BatchEncoder(familyID: 0x1234, maximumBytes: 1 << 16, maximumMessages: maximumMessages),
            reserveBlock: {
                next.with { first in
                    defer { first &+= UInt32(StreamPipeline.sequenceBlockSize) }
                    return first
                }
            },
            transmit: transmit
        )
    }

    static func server(_ n: Int) -> IPVSOperation {
        let service = VirtualServer.ID.service(.tcp, IPAddress("10.96.0.1")!, port: 80)
        let address = IPAddress("10.244.\(n / 250).\(n % 250 + 1)")!
        return .addServer(RealServer(address: address, port: 8080, forwarding: .masquerade, weight: 1), to: service)
    }

    static let operations = (0..<23).map(server)

    /// Runs a stream over `wire`, submitting `chunks`, and returns every batch in the order it came back.
    static func run(_ wire: Wire, maximumMessages: Int, chunks: [[IPVSOperation]]) -> [AppliedBatch] {
        let stream = ApplyStream(pipeline: pipeline(maximumMessages: maximumMessages, transmit: wire.transmit))
        var batches: [AppliedBatch] = []
        batches += ApplyStream.run(stream) { stream in
            for chunk in chunks { batches += stream.submit(chunk) }
        }
        return batches
    }

    /// The operations of the batches, checked to be contiguous from 0.
    static func joined(_ batches: [AppliedBatch]) -> [IPVSOperation] {
        var all: [IPVSOperation] = []
        for batch in batches {
            #expect(batch.offset == all.count)
            #expect(batch.result.operationCount == batch.operations.count)
            all += batch.operations
        }
        return all
    }

    @Test func operationsGoToTheKernelInOrderWithFreshSequenceNumbers() {
        let wire = Wire()
        let chunks = [Array(Self.operations[0..<3]), Array(Self.operations[3..<17]), Array(Self.operations[17...])]
        let batches = Self.run(wire, maximumMessages: 4, chunks: chunks)
        #expect(Self.joined(batches) == Self.operations)
        let sent = wire.sent.current
        #expect(sent.map(\.operation) == Self.operations)
        #expect(Set(sent.map(\.sequence)).count == sent.count)
        #expect(batches.count == 6)  // 23 operations, 4 per datagram
        #expect(batches.allSatisfy { $0.result.failures.isEmpty && $0.result.sendCalls == 1 })
    }

    @Test func refusedOperationsMidStreamAreReportedWhereTheyAre() throws {
        var operations = Self.operations
        // One the encoder refuses (never sent) and one the kernel refuses; everything else still applies.
        let badScheduler = VirtualServer(
            id: .service(.tcp, IPAddress("10.96.0.2")!, port: 80),
            scheduler: "a-very-long-scheduler"
        )
        operations[13] = .addService(badScheduler)
        let exists = operations[10]
        let wire = Wire(refuse: { $0 == exists ? EEXIST : nil })
        let batches = Self.run(wire, maximumMessages: 4, chunks: [Array(operations[..<9]), Array(operations[9...])])
        #expect(Self.joined(batches) == operations)
        let failures = batches.flatMap { batch in batch.result.failures.map { (batch.offset + $0.index, $0) } }
        #expect(failures.map(\.0) == [10, 13])
        #expect(failures[0].1.error == .kernel(errno: EEXIST, operation: exists))
        #expect(failures[0].1.operation == exists)
        var expected: IPVSError?
        do throws(IPVSError) {
            var writer = NetlinkWriter()
            try IPVSEncoder(familyID: 0x1234).encode(operations[13], sequence: 1, into: &writer)
        } catch {
            expected = error
        }
        #expect(failures[1].1.error == expected)
        #expect(!wire.sent.current.map(\.operation).contains(operations[13]))
        #expect(wire.sent.current.count == operations.count - 1)
    }

    struct GaveUp: Error {}

    @Test func aProducerThatThrowsMidStreamKeepsWhatItSubmitted() {
        let wire = Wire()
        var produced = 0
        /// A producer of operations that fails on its third chunk.
        func nextChunk() throws(GaveUp) -> [IPVSOperation] {
            guard produced < 2 else { throw GaveUp() }
            defer { produced += 1 }
            return Array(Self.operations[(produced * 5)..<(produced * 5 + 5)])
        }
        let stream = ApplyStream(pipeline: Self.pipeline(maximumMessages: 4, transmit: wire.transmit))
        var batches: [AppliedBatch] = []
        var failure: GaveUp?
        batches += ApplyStream.run(stream) { stream in
            do throws(GaveUp) {
                while true { batches += stream.submit(try nextChunk()) }
            } catch {
                failure = error
            }
        }
        #expect(failure != nil)
        // Everything handed over before the error went to the kernel and came back; nothing after it.
        #expect(Self.joined(batches) == Array(Self.operations[..<10]))
        #expect(wire.sent.current.map(\.operation) == Array(Self.operations[..<10]))
    }

    @Test func aStreamShorterThanOneBatchIsSentOnTheCallersThread() {
        let caller = pthread_self()
        let senders = Shared<[pthread_t]>([])
        let wire = Wire()
        let stream = ApplyStream(
            pipeline: Self.pipeline(maximumMessages: 64) { batch in
                senders.with { $0.append(pthread_self()) }
                return wire.transmit(batch)
            }
        )
        let batches = ApplyStream.run(stream) { stream in #expect(stream.submit(Array(Self.operations[..<5])).isEmpty) }
        #expect(Self.joined(batches) == Array(Self.operations[..<5]))
        let threads = senders.current
        #expect(threads.count == 1 && pthread_equal(threads[0], caller) != 0)
    }

    @Test func encodedBatchesWaitingForTheKernelAreBounded() {
        let capacity = ApplyStream.queueCapacity
        let wire = Wire()
        let submittedOperations = Shared(0)
        let producedWhenFull = Shared(-1)
        let queue = Shared<BatchQueue<StreamBatch>?>(nil)
        let many = (0..<200).map(Self.server)
        let pipeline = Self.pipeline(maximumMessages: 2) { batch in
            if batch.offset == 0 {
                // Hold the kernel until the producer has filled the queue, then note how far it got.
                while (queue.current?.count ?? 0) < capacity { usleep(1000) }
                usleep(20_000)  // room for an unbounded producer to run ahead; the bound is what is checked
                let produced = submittedOperations.current
                producedWhenFull.with { $0 = produced }
            }
            return wire.transmit(batch)
        }
        queue.with { $0 = pipeline.queue }
        let stream = ApplyStream(pipeline: pipeline)
        var batches: [AppliedBatch] = []
        batches += ApplyStream.run(stream) { stream in
            for start in stride(from: 0, to: many.count, by: 2) {
                batches += stream.submit(Array(many[start..<start + 2]))
                submittedOperations.with { $0 += 2 }
            }
        }
        #expect(Self.joined(batches) == many)
        #expect(pipeline.queue.highWater == capacity)
        // One batch with the kernel, `capacity` queued, one encoded and waiting for room: no more was taken.
        let produced = producedWhenFull.current
        #expect(produced >= 0 && produced <= (capacity + 2) * 2)
    }
}
