/// Builds netlink messages (generic netlink's, and rtnetlink's local routes) and attributes, in host byte order.
///
/// Attribute layout follows libnl (`nla_put`, `nla_nest_start` with `NLA_F_NESTED`): length excludes the
/// padding to 4 bytes; a nest's length covers its children and their padding. Values are copied straight
/// into the buffer, without temporary arrays: bulk applies encode some 100k attributes per 10k services.
struct NetlinkWriter {
    private(set) var bytes: [UInt8] = []
    private var openMessage: Int?
    private var openNests = 0

    static let nestedFlag: UInt16 = 0x8000

    init(reservingCapacity capacity: Int = 256) { bytes.reserveCapacity(capacity) }

    /// Starts a generic-netlink message: `nlmsghdr` then `genlmsghdr`.
    mutating func beginMessage(type: UInt16, flags: UInt16, sequence: UInt32, command: UInt8, version: UInt8) {
        beginMessage(type: type, flags: flags, sequence: sequence)
        bytes.append(command)
        bytes.append(version)
        append(UInt16(0))  // reserved
    }

    /// Starts a message with its `nlmsghdr` only: the family's fixed header (rtnetlink's `rtmsg`) follows
    /// through ``appendField(_:)``, then the attributes.
    mutating func beginMessage(type: UInt16, flags: UInt16, sequence: UInt32) {
        precondition(openMessage == nil, "message already open")
        openMessage = bytes.count
        append(UInt32(0))  // nlmsg_len, patched in endMessage
        append(type)
        append(flags)
        append(sequence)
        append(UInt32(0))  // nlmsg_pid: the kernel fills in the sender
    }

    /// One field of a fixed header, in host byte order and unpadded.
    mutating func appendField<T: FixedWidthInteger>(_ value: T) {
        precondition(openMessage != nil && openNests == 0, "a fixed header belongs right after beginMessage")
        append(value)
    }

    mutating func endMessage() {
        guard let start = openMessage else { preconditionFailure("no open message") }
        precondition(openNests == 0, "unclosed nest")
        patch(UInt32(bytes.count - start), at: start)
        openMessage = nil
    }

    /// Drops everything from `count` on: undoes a message that did not fit a batch.
    mutating func truncate(to count: Int) {
        precondition(openMessage == nil && count <= bytes.count)
        bytes.removeSubrange(count...)
    }

    mutating func put(_ type: UInt16, bytes payload: some Collection<UInt8>) {
        header(type, length: payload.count)
        bytes.append(contentsOf: payload)
        pad()
    }

    mutating func put(_ type: UInt16, _ value: UInt8) { putValue(type, value) }
    mutating func put(_ type: UInt16, _ value: UInt16) { putValue(type, value) }
    mutating func put(_ type: UInt16, _ value: UInt32) { putValue(type, value) }
    mutating func put(_ type: UInt16, _ value: UInt64) { putValue(type, value) }

    /// Two 32-bit values in one attribute, such as `struct ip_vs_flags { flags; mask }`.
    mutating func put(_ type: UInt16, _ first: UInt32, _ second: UInt32) {
        header(type, length: 8)
        append(first)
        append(second)
    }

    /// A 16-bit value in network byte order (ports).
    mutating func put(_ type: UInt16, bigEndian value: UInt16) { putValue(type, value.bigEndian) }

    /// A NUL-terminated string, as `NLA_PUT_STRING` writes it.
    mutating func put(_ type: UInt16, string: String) {
        var text = string
        text.withUTF8 { utf8 in
            header(type, length: utf8.count + 1)
            bytes.append(contentsOf: utf8)
        }
        bytes.append(0)
        pad()
    }

    /// A 16-byte `union nf_inet_addr`: the address's 4 or 16 bytes in network order, zero-filled.
    mutating func put(_ type: UInt16, inetAddress address: IPAddress) {
        header(type, length: 16)
        if address.family == .inet {
            append(UInt32(truncatingIfNeeded: address.high >> 32).bigEndian)
            append(UInt32(0))
            append(UInt64(0))
        } else {
            append(address.high.bigEndian)
            append(address.low.bigEndian)
        }
    }

    mutating func nest(_ type: UInt16, _ body: (inout NetlinkWriter) -> Void) {
        let start = bytes.count
        append(UInt16(0))
        append(type | Self.nestedFlag)
        openNests += 1
        body(&self)
        openNests -= 1
        patch(UInt16(bytes.count - start), at: start)
    }

    private mutating func putValue<T: FixedWidthInteger>(_ type: UInt16, _ value: T) {
        header(type, length: MemoryLayout<T>.size)
        append(value)
        pad()
    }

    private mutating func header(_ type: UInt16, length: Int) {
        append(UInt16(4 + length))
        append(type)
    }

    private mutating func pad() {
        while bytes.count % 4 != 0 { bytes.append(0) }
    }

    private mutating func append<T: FixedWidthInteger>(_ value: T) {
        withUnsafeBytes(of: value) { bytes.append(contentsOf: $0) }
    }

    private mutating func patch<T: FixedWidthInteger>(_ value: T, at offset: Int) {
        bytes.withUnsafeMutableBytes { $0.storeBytes(of: value, toByteOffset: offset, as: T.self) }
    }
}
