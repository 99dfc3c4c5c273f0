import NIOCore

/// Splits a watch body into its newline-delimited events, with a bound on each line: a longer line is
/// dropped as it streams (never buffered whole) and reported once it ends.
public struct EventLines {
    public enum Line {
        case event(ByteBuffer)
        /// A line longer than the bound, dropped; its length in bytes.
        case oversized(Int)
    }

    public let maxLineBytes: Int
    private var pending = ByteBuffer()
    /// Bytes of the current line dropped so far, while it is over the bound.
    private var dropping: Int?

    public init(maxLineBytes: Int) { self.maxLineBytes = maxLineBytes }

    /// The lines `chunk` completes.
    public mutating func append(_ chunk: ByteBuffer) -> [Line] {
        var lines: [Line] = []
        var chunk = chunk
        while chunk.readableBytes > 0 {
            guard let newline = chunk.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) else {
                take(&chunk, count: chunk.readableBytes)
                break
            }
            take(&chunk, count: newline - chunk.readerIndex)
            chunk.moveReaderIndex(forwardBy: 1)
            if let dropped = dropping {
                lines.append(.oversized(dropped))
                dropping = nil
            } else if pending.readableBytesView.contains(where: { $0 != UInt8(ascii: " ") && $0 != UInt8(ascii: "\r") })
            {
                lines.append(.event(pending))
            }
            pending = ByteBuffer()
        }
        return lines
    }

    /// A line cut off by the end of the stream, which is not an event.
    public var hasPartialLine: Bool { pending.readableBytes > 0 || dropping != nil }

    private mutating func take(_ chunk: inout ByteBuffer, count: Int) {
        guard count > 0 else { return }
        if let dropped = dropping {
            dropping = dropped + count
            chunk.moveReaderIndex(forwardBy: count)
            return
        }
        if pending.readableBytes + count > maxLineBytes {
            dropping = pending.readableBytes + count
            pending = ByteBuffer()
            chunk.moveReaderIndex(forwardBy: count)
            return
        }
        var slice = chunk.readSlice(length: count)!
        pending.writeBuffer(&slice)
    }
}
