/// Builds netlink messages with generic-netlink headers and attributes, in host byte order.
///
/// Attribute layout follows libnl (`nla_put`, `nla_nest_start` with `NLA_F_NESTED`): length excludes the
/// padding to 4 bytes; a nest's length covers its children and their padding.
struct NetlinkWriter {
    private(set) var bytes: [UInt8] = []
    private var openMessage: Int?
    private var openNests: [Int] = []

    static let nestedFlag: UInt16 = 0x8000

    init(reservingCapacity capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    /// Starts a message: `nlmsghdr` then `genlmsghdr`.
    mutating func beginMessage(type: UInt16, flags: UInt16, sequence: UInt32, command: UInt8, version: UInt8) {
        precondition(openMessage == nil, "message already open")
        openMessage = bytes.count
        append(UInt32(0))  // nlmsg_len, patched in endMessage
        append(type)
        append(flags)
        append(sequence)
        append(UInt32(0))  // nlmsg_pid: the kernel fills in the sender
        bytes.append(command)
        bytes.append(version)
        append(UInt16(0))  // reserved
    }

    mutating func endMessage() {
        guard let start = openMessage else { preconditionFailure("no open message") }
        precondition(openNests.isEmpty, "unclosed nest")
        patch(UInt32(bytes.count - start), at: start)
        openMessage = nil
    }

    /// Drops everything from `count` on: undoes a message that did not fit a batch.
    mutating func truncate(to count: Int) {
        precondition(openMessage == nil && count <= bytes.count)
        bytes.removeSubrange(count...)
    }

    mutating func put(_ type: UInt16, bytes payload: some Collection<UInt8>) {
        append(UInt16(4 + payload.count))
        append(type)
        bytes.append(contentsOf: payload)
        pad()
    }

    mutating func put(_ type: UInt16, _ value: UInt8) { put(type, bytes: [value]) }
    mutating func put(_ type: UInt16, _ value: UInt16) { put(type, bytes: Self.hostBytes(value)) }
    mutating func put(_ type: UInt16, _ value: UInt32) { put(type, bytes: Self.hostBytes(value)) }
    mutating func put(_ type: UInt16, _ value: UInt64) { put(type, bytes: Self.hostBytes(value)) }

    /// A 16-bit value in network byte order (ports).
    mutating func put(_ type: UInt16, bigEndian value: UInt16) { put(type, bytes: Self.hostBytes(value.bigEndian)) }

    /// A NUL-terminated string, as `NLA_PUT_STRING` writes it.
    mutating func put(_ type: UInt16, string: String) { put(type, bytes: Array(string.utf8) + [0]) }

    mutating func nest(_ type: UInt16, _ body: (inout NetlinkWriter) -> Void) {
        let start = bytes.count
        append(UInt16(0))
        append(type | Self.nestedFlag)
        openNests.append(start)
        body(&self)
        openNests.removeLast()
        patch(UInt16(bytes.count - start), at: start)
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) { bytes.append(contentsOf: Self.hostBytes(value)) }

    private mutating func patch<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        for (index, byte) in Self.hostBytes(value).enumerated() { bytes[offset + index] = byte }
    }

    static func hostBytes<T: FixedWidthInteger>(_ value: T) -> [UInt8] {
        withUnsafeBytes(of: value) { Array($0) }
    }
}
