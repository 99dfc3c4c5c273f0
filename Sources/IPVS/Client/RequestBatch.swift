import Dispatch
import Synchronization

/// One datagram of encoded requests, and the operation behind each of its sequence numbers.
struct RequestBatch: Sendable {
    var bytes: [UInt8]
    var firstSequence: UInt32
    /// The operation index of sequence `firstSequence + k`, for each request in the datagram.
    var indices: [Int]
    /// Operations refused before sending (invalid input); they are part of the batch's range.
    var refused: [BulkApplyResult.Failure]
    /// The range of operations the batch covers.
    var start: Int
    var end: Int
}

/// Packs operations into batches within one socket's limits.
struct BatchEncoder: Sendable {
    let encoder: IPVSEncoder
    let maximumBytes: Int
    let maximumMessages: Int

    init(socket: NetlinkSocket) {
        self.init(
            familyID: socket.familyID,
            maximumBytes: socket.maximumBatchBytes,
            maximumMessages: socket.maximumBatchMessages
        )
    }

    init(familyID: UInt16, maximumBytes: Int, maximumMessages: Int) {
        encoder = IPVSEncoder(familyID: familyID)
        self.maximumBytes = maximumBytes
        self.maximumMessages = maximumMessages
    }

    /// The next batch from `start`, numbered from `sequence`; always takes at least one operation.
    func batch(of operations: [IPVSOperation], from start: Int, sequence first: UInt32) -> RequestBatch {
        // Most requests are under 160 bytes: reserve for them, not for the whole send buffer.
        let estimate = 160 * min(operations.count - start, maximumMessages) + 64
        var writer = NetlinkWriter(reservingCapacity: min(maximumBytes, estimate))
        var indices: [Int] = []
        var refused: [BulkApplyResult.Failure] = []
        var index = start
        var sequence = first
        while index < operations.count, indices.count < maximumMessages {
            let mark = writer.bytes.count
            do throws(IPVSError) {
                try encoder.encode(operations[index], sequence: sequence, into: &writer)
            } catch {
                refused.append(.init(index: index, operation: operations[index], error: error))
                index += 1
                continue
            }
            if writer.bytes.count > maximumBytes, !indices.isEmpty {
                writer.truncate(to: mark)
                break
            }
            indices.append(index)
            sequence &+= 1
            index += 1
        }
        return RequestBatch(
            bytes: writer.bytes,
            firstSequence: first,
            indices: indices,
            refused: refused,
            start: start,
            end: index
        )
    }
}

/// A bounded queue from the encoding thread to the sending one: `put` waits while it is full.
final class BatchQueue<Item: Sendable>: Sendable {
    private struct State {
        var items: [Item] = []
        var highWater = 0
    }

    private let state = Mutex(State())
    /// Counts queued items, plus one when the producer finishes.
    private let available = DispatchSemaphore(value: 0)
    private let space: DispatchSemaphore

    init(capacity: Int) {
        space = DispatchSemaphore(value: capacity)
    }

    /// The most items ever queued at once (never above the capacity).
    var highWater: Int { state.withLock { $0.highWater } }

    /// Items queued now.
    var count: Int { state.withLock { $0.items.count } }

    /// Producer: waits for room, then queues `item`.
    func put(_ item: Item) {
        space.wait()
        state.withLock { state in
            state.items.append(item)
            state.highWater = max(state.highWater, state.items.count)
        }
        available.signal()
    }

    /// Producer: no more items.
    func finish() {
        available.signal()
    }

    /// Consumer: the next item, or nil when the producer has finished.
    func take() -> Item? {
        available.wait()
        let next = state.withLock { $0.items.isEmpty ? nil : $0.items.removeFirst() }
        if next != nil { space.signal() }
        return next
    }
}
