extension DNSMessage {
    /// Decodes a message, checking every length against the bytes present: names at most 255 bytes with
    /// labels at most 63, compression pointers only backwards (so no loop), record data exactly as long as it
    /// says, at most one OPT record and only in the additional section with the root name, no bytes after
    /// the last record.
    /// - Throws: ``DNSError`` naming the first problem and its offset.
    public static func decode(_ bytes: [UInt8]) throws(DNSError) -> DNSMessage {
        guard bytes.count <= maxSize else { throw DNSError(.tooLarge, "\(bytes.count) bytes", offset: 0) }
        var reader = DNSReader(bytes)
        let id = try reader.u16()
        var message = DNSMessage(header: DNSHeader(id: id, flags: try reader.u16()))
        let counts = [try reader.u16(), try reader.u16(), try reader.u16(), try reader.u16()]
        // A question takes at least 5 bytes and a record 11: a count the rest cannot hold is refused
        // before anything is reserved for it.
        let minimum = Int(counts[0]) * 5 + (Int(counts[1]) + Int(counts[2]) + Int(counts[3])) * 11
        guard minimum <= reader.remaining else {
            throw DNSError(.truncated, "section counts need at least \(minimum) more bytes", offset: reader.offset)
        }
        for _ in 0..<counts[0] {
            let name = try reader.name()
            message.questions.append(
                DNSQuestion(name: name, type: DNSRecordType(rawValue: try reader.u16()), recordClass: try reader.u16())
            )
        }
        for _ in 0..<counts[1] { message.answers.append(try reader.record(section: "answer")) }
        for _ in 0..<counts[2] { message.authority.append(try reader.record(section: "authority")) }
        for _ in 0..<counts[3] {
            let start = reader.offset
            if let edns = try reader.opt() {
                guard message.edns == nil else { throw DNSError(.badRecord, "a second OPT record", offset: start) }
                message.edns = edns
            } else {
                message.additional.append(try reader.record(section: "additional"))
            }
        }
        guard reader.remaining == 0 else {
            throw DNSError(.badRecord, "\(reader.remaining) bytes after the last record", offset: reader.offset)
        }
        return message
    }
}

/// A cursor over one message; every read checks the bytes left.
struct DNSReader {
    let bytes: [UInt8]
    private(set) var offset = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var remaining: Int { bytes.count - offset }

    mutating func u8() throws(DNSError) -> UInt8 {
        guard remaining >= 1 else { throw DNSError(.truncated, "expected 1 byte", offset: offset) }
        defer { offset += 1 }
        return bytes[offset]
    }

    mutating func u16() throws(DNSError) -> UInt16 {
        guard remaining >= 2 else { throw DNSError(.truncated, "expected 2 bytes", offset: offset) }
        defer { offset += 2 }
        return UInt16(bytes[offset]) << 8 | UInt16(bytes[offset + 1])
    }

    mutating func u32() throws(DNSError) -> UInt32 {
        UInt32(try u16()) << 16 | UInt32(try u16())
    }

    mutating func take(_ count: Int) throws(DNSError) -> [UInt8] {
        guard remaining >= count else { throw DNSError(.truncated, "expected \(count) bytes", offset: offset) }
        defer { offset += count }
        return Array(bytes[offset..<offset + count])
    }

    /// A possibly compressed name. Each pointer must point before the pointer itself, so following
    /// pointers strictly decreases the position and always ends.
    mutating func name() throws(DNSError) -> DNSName {
        var labels: [[UInt8]] = []
        var length = 1
        var position = offset
        var resumeAt: Int?
        while true {
            guard position < bytes.count else { throw DNSError(.truncated, "name runs past the end", offset: position) }
            let byte = bytes[position]
            switch byte & 0xC0 {
            case 0x00:
                let count = Int(byte)
                if count == 0 {
                    offset = resumeAt ?? position + 1
                    return try DNSName(labels: labels)
                }
                guard position + 1 + count <= bytes.count else {
                    throw DNSError(.truncated, "label runs past the end", offset: position)
                }
                length += 1 + count
                guard length <= DNSName.maxWireLength else {
                    throw DNSError(.badName, "name longer than 255 bytes", offset: position)
                }
                labels.append(Array(bytes[position + 1...position + count]))
                position += 1 + count
            case 0xC0:
                guard position + 1 < bytes.count else {
                    throw DNSError(.truncated, "pointer runs past the end", offset: position)
                }
                let target = Int(byte & 0x3F) << 8 | Int(bytes[position + 1])
                guard target < position else {
                    throw DNSError(.badPointer, "pointer to \(target) does not point backwards", offset: position)
                }
                if resumeAt == nil { resumeAt = position + 2 }
                position = target
            default:
                throw DNSError(
                    .badName,
                    "label type 0x\(String(byte >> 6, radix: 16)) is not supported",
                    offset: position
                )
            }
        }
    }

    /// An OPT record if the next record is one (the reader advances past it), else nil and no advance.
    mutating func opt() throws(DNSError) -> DNSEDNS? {
        let start = offset
        let owner = try name()
        let type = DNSRecordType(rawValue: try u16())
        guard type == .opt else {
            offset = start
            return nil
        }
        guard owner == .root else { throw DNSError(.badRecord, "OPT record with a non-root name", offset: start) }
        var edns = DNSEDNS(udpPayloadSize: try u16())
        edns.extendedRcode = try u8()
        edns.version = try u8()
        edns.dnssecOK = try u16() & 0x8000 != 0
        edns.options = try take(Int(try u16()))
        return edns
    }

    mutating func record(section: String) throws(DNSError) -> DNSRecord {
        let start = offset
        let name = try name()
        let type = DNSRecordType(rawValue: try u16())
        guard type != .opt else { throw DNSError(.badRecord, "OPT record in the \(section) section", offset: start) }
        let recordClass = try u16()
        let ttl = try u32()
        let length = Int(try u16())
        guard remaining >= length else { throw DNSError(.truncated, "record data runs past the end", offset: offset) }
        let end = offset + length
        let data = try recordData(type, length: length)
        guard offset == end else {
            throw DNSError(
                .badRecord,
                "\(type) data is \(length) bytes, its fields \(offset - end + length)",
                offset: start
            )
        }
        return DNSRecord(name: name, type: type, recordClass: recordClass, ttl: ttl, data: data)
    }

    private mutating func recordData(_ type: DNSRecordType, length: Int) throws(DNSError) -> DNSRecordData {
        switch type {
        case .a where length == 4: return .a(try take(4))
        case .aaaa where length == 16: return .aaaa(try take(16))
        case .a, .aaaa: throw DNSError(.badRecord, "\(type) data of \(length) bytes", offset: offset)
        case .ptr: return .ptr(try name())
        case .cname: return .cname(try name())
        case .ns: return .ns(try name())
        case .srv:
            return .srv(priority: try u16(), weight: try u16(), port: try u16(), target: try name())
        case .soa:
            return .soa(
                DNSSOA(
                    primary: try name(),
                    mailbox: try name(),
                    serial: try u32(),
                    refresh: try u32(),
                    retry: try u32(),
                    expire: try u32(),
                    minimum: try u32()
                )
            )
        default: return .raw(try take(length))
        }
    }
}
