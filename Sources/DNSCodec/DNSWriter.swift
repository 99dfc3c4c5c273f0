extension DNSMessage {
    /// Encodes the message with name compression, in at most `limit` bytes.
    ///
    /// When the answer or authority records do not fit, they are all left out and the TC bit is set, so the
    /// client retries over TCP (RFC 2181 9: a partial RRset is worse than none); additional records that do
    /// not fit are dropped without TC. The question and the OPT record are always kept.
    /// - Parameter limit: at least 512 and at most 65,535 (clamped to those).
    public func encode(limit: Int = DNSMessage.maxSize) -> [UInt8] {
        let limit = min(max(limit, DNSMessage.classicUDPSize), DNSMessage.maxSize)
        let optSize = edns.map { 11 + $0.options.count } ?? 0
        var writer = DNSWriter()
        writer.header(header, counts: (questions.count, answers.count, authority.count, additional.count))
        for question in questions {
            writer.name(question.name)
            writer.u16(question.type.rawValue)
            writer.u16(question.recordClass)
        }
        let afterQuestions = writer.bytes.count
        var truncated = false
        for record in answers + authority {
            writer.record(record)
            if writer.bytes.count + optSize > limit {
                truncated = true
                break
            }
        }
        var additionalCount = 0
        if truncated {
            writer.rewind(to: afterQuestions)
        } else {
            for record in additional {
                let before = writer.bytes.count
                writer.record(record)
                if writer.bytes.count + optSize > limit {
                    writer.rewind(to: before)
                    break
                }
                additionalCount += 1
            }
        }
        if let edns { writer.opt(edns) }
        var finalHeader = header
        if truncated { finalHeader.truncated = true }
        writer.patchHeader(
            finalHeader,
            counts: (
                questions.count, truncated ? 0 : answers.count, truncated ? 0 : authority.count,
                additionalCount + (edns == nil ? 0 : 1)
            )
        )
        return writer.bytes
    }
}

/// Lays out a message; remembers where each name suffix was written so later names point to it.
struct DNSWriter {
    private(set) var bytes: [UInt8] = []
    private var suffixes: [ArraySlice<[UInt8]>: Int] = [:]

    init() { bytes.reserveCapacity(512) }

    mutating func u8(_ value: UInt8) { bytes.append(value) }

    mutating func u16(_ value: UInt16) {
        bytes.append(UInt8(value >> 8))
        bytes.append(UInt8(truncatingIfNeeded: value))
    }

    mutating func u32(_ value: UInt32) {
        u16(UInt16(value >> 16))
        u16(UInt16(truncatingIfNeeded: value))
    }

    mutating func header(_ header: DNSHeader, counts: (Int, Int, Int, Int)) {
        bytes.removeAll(keepingCapacity: true)
        bytes.append(contentsOf: repeatElement(0, count: 12))
        patchHeader(header, counts: counts)
    }

    mutating func patchHeader(_ header: DNSHeader, counts: (Int, Int, Int, Int)) {
        let fields = [
            header.id, header.flags, UInt16(clamping: counts.0), UInt16(clamping: counts.1), UInt16(clamping: counts.2),
            UInt16(clamping: counts.3),
        ]
        for (index, field) in fields.enumerated() {
            bytes[index * 2] = UInt8(field >> 8)
            bytes[index * 2 + 1] = UInt8(truncatingIfNeeded: field)
        }
    }

    /// Drops everything from `offset` on, and the compression targets that pointed there.
    mutating func rewind(to offset: Int) {
        bytes.removeSubrange(offset...)
        suffixes = suffixes.filter { $0.value < offset }
    }

    /// Writes `name`, replacing its longest suffix already written with a pointer unless `compress` is false.
    /// Suffixes are matched byte for byte (not case-folded), so a name's case comes back exactly as given.
    mutating func name(_ name: DNSName, compress: Bool = true) {
        let labels = name.labels[...]
        for index in labels.indices {
            let suffix = labels[index...]
            if compress, let target = suffixes[suffix] {
                u16(0xC000 | UInt16(target))
                return
            }
            // Pointers have 14 bits.
            if bytes.count < 0x4000, suffixes[suffix] == nil { suffixes[suffix] = bytes.count }
            u8(UInt8(labels[index].count))
            bytes.append(contentsOf: labels[index])
        }
        u8(0)
    }

    mutating func record(_ record: DNSRecord) {
        name(record.name)
        u16(record.type.rawValue)
        u16(record.recordClass)
        u32(record.ttl)
        let lengthAt = bytes.count
        u16(0)
        switch record.data {
        case .a(let address), .aaaa(let address), .raw(let address): bytes.append(contentsOf: address)
        case .ptr(let target), .cname(let target), .ns(let target): name(target)
        case .srv(let priority, let weight, let port, let target):
            u16(priority)
            u16(weight)
            u16(port)
            // RFC 2782: the target is never compressed.
            name(target, compress: false)
        case .soa(let soa):
            name(soa.primary)
            name(soa.mailbox)
            for field in [soa.serial, soa.refresh, soa.retry, soa.expire, soa.minimum] { u32(field) }
        }
        let length = bytes.count - lengthAt - 2
        bytes[lengthAt] = UInt8(truncatingIfNeeded: length >> 8)
        bytes[lengthAt + 1] = UInt8(truncatingIfNeeded: length)
    }

    mutating func opt(_ edns: DNSEDNS) {
        u8(0)
        u16(DNSRecordType.opt.rawValue)
        u16(edns.udpPayloadSize)
        u8(edns.extendedRcode)
        u8(edns.version)
        u16(edns.dnssecOK ? 0x8000 : 0)
        u16(UInt16(edns.options.count))
        bytes.append(contentsOf: edns.options)
    }
}
