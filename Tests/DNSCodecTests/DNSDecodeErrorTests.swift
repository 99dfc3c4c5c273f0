import DNSCodec
import Testing

/// Every bound on input, each from hand-built bytes.
@Suite struct DNSDecodeErrorTests {
    static let header: [UInt8] = [0xAB, 0xCD, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00]
    static let typeAndClass: [UInt8] = [0x00, 0x01, 0x00, 0x01]

    static func code(_ bytes: [UInt8]) -> DNSError.Code? {
        do {
            _ = try DNSMessage.decode(bytes)
            return nil
        } catch {
            return error.code
        }
    }

    @Test func labelOver63Bytes() {
        let bytes = Self.header + [64] + Array(repeating: 0x61, count: 64) + [0] + Self.typeAndClass
        #expect(Self.code(bytes) == .badName)
        let ok = Self.header + [63] + Array(repeating: 0x61, count: 63) + [0] + Self.typeAndClass
        #expect(Self.code(ok) == nil)
    }

    @Test func nameOver255Bytes() {
        // 4 labels of 63 take 256 bytes with their lengths, 257 with the root.
        let label: [UInt8] = [63] + Array(repeating: 0x61, count: 63)
        let long: [UInt8] = Array(repeating: label, count: 4).flatMap { $0 }
        #expect(Self.code(Self.header + long + [0] + Self.typeAndClass) == .badName)
        let last: [UInt8] = [61] + Array(repeating: 0x61, count: 61)
        let fits: [UInt8] = Array(repeating: label, count: 3).flatMap { $0 } + last
        #expect(Self.code(Self.header + fits + [0] + Self.typeAndClass) == nil)  // exactly 255
    }

    @Test func nameOver255BytesThroughPointers() {
        // A name built of pointers to earlier labels still counts every byte it expands to.
        var bytes = Self.header + [63] + Array(repeating: 0x61, count: 63) + [0] + Self.typeAndClass
        bytes[5] = 2  // two questions
        // The second: three more labels of 63, then a pointer to the first question's label at 12.
        let label: [UInt8] = [63] + Array(repeating: 0x62, count: 63)
        bytes += Array(repeating: label, count: 3).flatMap { $0 }
        bytes += [0xC0, 0x0C] + Self.typeAndClass
        #expect(Self.code(bytes) == .badName)
    }

    @Test func pointerToItselfIsALoop() {
        #expect(Self.code(Self.header + [0xC0, 0x0C] + Self.typeAndClass) == .badPointer)
    }

    @Test func pointerForwardIsRefused() {
        #expect(Self.code(Self.header + [0xC0, 0x10, 0, 0, 1, 0x61, 0] + Self.typeAndClass) == .badPointer)
    }

    @Test func pointerLoopBetweenTwoNames() {
        // The answer's owner points to the question, whose name points to the answer: the second pointer
        // points forwards and is refused.
        var bytes = Self.header + [0xC0, 0x12] + Self.typeAndClass
        bytes[7] = 1
        bytes += [0xC0, 0x0C, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4]
        #expect(Self.code(bytes) == .badPointer)
    }

    @Test func reservedLabelTypes() {
        #expect(Self.code(Self.header + [0x40, 0] + Self.typeAndClass) == .badName)
        #expect(Self.code(Self.header + [0x80, 0] + Self.typeAndClass) == .badName)
    }

    @Test func truncatedEverywhere() {
        let full = DNSTestZone.query("web.default.svc.cluster.local", .a, edns: DNSEDNS(udpPayloadSize: 1232))
        #expect(Self.code(full) == nil)
        for length in 0..<full.count {
            #expect(Self.code(Array(full.prefix(length))) != nil, "prefix of \(length) bytes decoded")
        }
    }

    @Test func countsLargerThanTheMessage() {
        var bytes = Self.header + [0] + Self.typeAndClass
        bytes[6] = 0xFF
        bytes[7] = 0xFF
        #expect(Self.code(bytes) == .truncated)
    }

    @Test func trailingBytes() {
        #expect(Self.code(Self.header + [0] + Self.typeAndClass + [0]) == .badRecord)
    }

    @Test func recordDataLengthMustMatch() {
        var bytes = Self.header + [0] + Self.typeAndClass
        bytes[7] = 1
        #expect(Self.code(bytes + [0, 0, 1, 0, 1, 0, 0, 0, 5, 0, 3, 1, 2, 3]) == .badRecord)  // A of 3 bytes
        // A PTR whose name ends before its declared length.
        #expect(Self.code(bytes + [0, 0, 12, 0, 1, 0, 0, 0, 5, 0, 3, 1, 0x61, 0]) == nil)
        #expect(Self.code(bytes + [0, 0, 12, 0, 1, 0, 0, 0, 5, 0, 4, 1, 0x61, 0, 0]) == .badRecord)
    }

    @Test func optOnlyOnceOnlyInAdditionalOnlyAtRoot() {
        let opt: [UInt8] = [0, 0, 41, 0x04, 0xD0, 0, 0, 0, 0, 0, 0]
        var bytes = Self.header + [0] + Self.typeAndClass
        bytes[11] = 2
        #expect(Self.code(bytes + opt + opt) == .badRecord)
        bytes[11] = 1
        #expect(Self.code(bytes + [1, 0x61] + opt) == .badRecord)  // owner "a"
        bytes[11] = 0
        bytes[7] = 1
        #expect(Self.code(bytes + opt) == .badRecord)  // in the answer section
    }

    @Test func tooLarge() {
        #expect(Self.code(Array(repeating: 0, count: 65_536)) == .tooLarge)
    }

    @Test func textNamesAreBounded() throws {
        #expect(throws: DNSError.self) { try DNSName(String(repeating: "a", count: 64)) }
        #expect(throws: DNSError.self) { try DNSName("a..b") }
        #expect(throws: DNSError.self) {
            try DNSName(Array(repeating: String(repeating: "a", count: 63), count: 4).joined(separator: "."))
        }
        #expect(try DNSName("a.b.") == (try DNSName("A.B")))
        #expect(try DNSName("x\u{7}.y").description == "x\\007.y.")
    }
}
