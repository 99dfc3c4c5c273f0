/// A netlink message received from the kernel.
struct NetlinkMessage {
    var type: UInt16
    var flags: UInt16
    var sequence: UInt32
    /// Everything after the 16-byte `nlmsghdr`.
    var payload: ArraySlice<UInt8>

    static let headerLength = 16
    static let error: UInt16 = 2  // NLMSG_ERROR
    static let done: UInt16 = 3  // NLMSG_DONE
    static let overrun: UInt16 = 4  // NLMSG_OVERRUN

    /// Splits a datagram into messages, checking every length against the bytes that are there.
    static func split(_ datagram: ArraySlice<UInt8>) throws(IPVSError) -> [NetlinkMessage] {
        var messages: [NetlinkMessage] = []
        var offset = datagram.startIndex
        while datagram.endIndex - offset >= headerLength {
            let length = Int(try readInteger(UInt32.self, datagram, at: offset))
            guard length >= headerLength, length <= datagram.endIndex - offset else {
                throw malformed("netlink message length \(length) at offset \(offset - datagram.startIndex)")
            }
            messages.append(
                NetlinkMessage(
                    type: try readInteger(UInt16.self, datagram, at: offset + 4),
                    flags: try readInteger(UInt16.self, datagram, at: offset + 6),
                    sequence: try readInteger(UInt32.self, datagram, at: offset + 8),
                    payload: datagram[(offset + headerLength)..<(offset + length)]
                )
            )
            offset += (length + 3) & ~3
        }
        return messages
    }

    /// Calls `body` with the sequence number and errno (0: success) of each `NLMSG_ERROR` in a datagram of
    /// acknowledgements, without building messages: a bulk apply reads one per operation.
    static func forEachAcknowledgement(
        in datagram: ArraySlice<UInt8>,
        _ body: (_ sequence: UInt32, _ errno: Int32) -> Void
    ) throws(IPVSError) {
        var offset = datagram.startIndex
        while datagram.endIndex - offset >= headerLength {
            let length = Int(try readInteger(UInt32.self, datagram, at: offset))
            guard length >= headerLength, length <= datagram.endIndex - offset else {
                throw malformed("netlink message length \(length) at offset \(offset - datagram.startIndex)")
            }
            if try readInteger(UInt16.self, datagram, at: offset + 4) == error {
                let code = try readInteger(UInt32.self, datagram, at: offset + headerLength)
                body(try readInteger(UInt32.self, datagram, at: offset + 8), errno(fromWire: code))
            }
            offset += (length + 3) & ~3
        }
    }

    /// For `NLMSG_ERROR`: the errno (positive) or 0 for an acknowledgement.
    func errorCode() throws(IPVSError) -> Int32 {
        Self.errno(fromWire: try readInteger(UInt32.self, payload, at: payload.startIndex))
    }

    /// `nlmsgerr.error` is a negative errno; negated without trapping, since a reply that says -2^31 (no kernel
    /// sends one; the fuzzer did) must be an error like any other, not a crash of the agent.
    static func errno(fromWire code: UInt32) -> Int32 {
        0 &- Int32(bitPattern: code)
    }

    /// For generic-netlink messages: the command and the attributes after the 4-byte `genlmsghdr`.
    func genericPayload() throws(IPVSError) -> (command: UInt8, attributes: ArraySlice<UInt8>) {
        guard payload.count >= 4 else { throw malformed("generic netlink header of \(payload.count) bytes") }
        return (payload[payload.startIndex], payload[(payload.startIndex + 4)...])
    }
}

/// The attributes of one level of a netlink message, indexed by type; later duplicates win as in `nla_parse`.
///
/// Decoding thousands of entries per listing, so nothing here allocates: attribute positions live in an
/// inline array (IPVS types are small; higher ones are skipped as unknown), and the context for error
/// messages is kept in parts and only joined when an error is built.
struct NetlinkAttributes {
    static let typeLimit = 24
    private let bytes: ArraySlice<UInt8>
    private var starts = InlineArray<24, Int32>(repeating: -1)
    private var ends = InlineArray<24, Int32>(repeating: -1)
    private let base: String
    private let path: (StaticString?, StaticString?)

    /// Where these attributes sit, for error messages ("service", "services.service.stats64").
    var context: String {
        [path.0, path.1].compactMap { $0.map { "\($0)" } }.reduce(base) { "\($0).\($1)" }
    }

    init(_ bytes: ArraySlice<UInt8>, context: String) throws(IPVSError) {
        try self.init(bytes, base: context, path: (nil, nil))
    }

    private init(_ bytes: ArraySlice<UInt8>, base: String, path: (StaticString?, StaticString?)) throws(IPVSError) {
        self.bytes = bytes
        self.base = base
        self.path = path
        var offset = bytes.startIndex
        while bytes.endIndex - offset >= 4 {
            let length = Int(try readInteger(UInt16.self, bytes, at: offset))
            let type = try readInteger(UInt16.self, bytes, at: offset + 2) & 0x3FFF  // drop NESTED / BYTEORDER
            guard length >= 4, length <= bytes.endIndex - offset else {
                throw malformed("\(context): attribute \(type) claims \(length) bytes")
            }
            if type < Self.typeLimit {
                starts[Int(type)] = Int32(offset + 4)
                ends[Int(type)] = Int32(offset + length)
            }
            offset += (length + 3) & ~3
        }
    }

    func raw(_ type: UInt16) -> ArraySlice<UInt8>? {
        guard type < Self.typeLimit, starts[Int(type)] >= 0 else { return nil }
        return bytes[Int(starts[Int(type)])..<Int(ends[Int(type)])]
    }

    func integer<T: FixedWidthInteger>(_ type: UInt16, as: T.Type = T.self) throws(IPVSError) -> T? {
        guard let value = raw(type) else { return nil }
        guard value.count >= MemoryLayout<T>.size else {
            throw malformed("\(context): attribute \(type) has \(value.count) bytes, expected \(MemoryLayout<T>.size)")
        }
        return try readInteger(T.self, value, at: value.startIndex)
    }

    func required<T: FixedWidthInteger>(_ type: UInt16, _ name: String, as: T.Type = T.self) throws(IPVSError) -> T {
        guard let value = try integer(type, as: T.self) else { throw malformed("\(context): \(name) is missing") }
        return value
    }

    /// A counter that is 32 bits in `STATS` and 64 bits in `STATS64`: takes whichever width arrived.
    func counter(_ type: UInt16) throws(IPVSError) -> UInt64 {
        guard let value = raw(type) else { return 0 }
        switch value.count {
        case 4...7: return UInt64(try readInteger(UInt32.self, value, at: value.startIndex))
        case 8...: return try readInteger(UInt64.self, value, at: value.startIndex)
        default: throw malformed("\(context): counter \(type) has \(value.count) bytes")
        }
    }

    func string(_ type: UInt16) -> String? {
        guard let value = raw(type) else { return nil }
        return String(decoding: value.prefix { $0 != 0 }, as: UTF8.self)
    }

    func nested(_ type: UInt16, _ name: StaticString) throws(IPVSError) -> NetlinkAttributes? {
        guard let value = raw(type) else { return nil }
        switch path {
        case (nil, _): return try NetlinkAttributes(value, base: base, path: (name, nil))
        case (let first, nil): return try NetlinkAttributes(value, base: base, path: (first, name))
        default: return try NetlinkAttributes(value, base: context, path: (name, nil))  // deeper: join now
        }
    }
}

func readInteger<T: FixedWidthInteger>(_: T.Type, _ bytes: ArraySlice<UInt8>, at offset: Int) throws(IPVSError) -> T {
    let size = MemoryLayout<T>.size
    guard offset >= bytes.startIndex, bytes.endIndex - offset >= size else {
        throw malformed("truncated: need \(size) bytes at offset \(offset - bytes.startIndex)")
    }
    return bytes.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset - bytes.startIndex, as: T.self) }
}

func malformed(_ message: String) -> IPVSError {
    IPVSError(.malformedReply, "malformed reply from the kernel: \(message)")
}
