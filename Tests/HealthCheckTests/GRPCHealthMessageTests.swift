import NIOHPACK
import Testing

@testable import HealthCheck

@Suite("grpc.health.v1 messages encoded by hand")
struct GRPCHealthMessageTests {
    @Test func overallHealthRequestIsAnEmptyMessage() {
        // Flag 0, length 0: proto3 leaves the empty service name out.
        #expect(GRPCHealthMessage.request(service: "") == [0, 0, 0, 0, 0])
    }

    @Test func namedRequest() {
        #expect(
            GRPCHealthMessage.request(service: "a.B") == [
                0,  // not compressed
                0, 0, 0, 5,  // message length (be32)
                0x0A,  // field 1, wire type 2
                3,  // string length (varint)
                0x61, 0x2E, 0x42,  // "a.B"
            ]
        )
    }

    @Test func longServiceNameHasATwoByteVarint() {
        let name = String(repeating: "s", count: 200)
        let bytes = GRPCHealthMessage.request(service: name)
        #expect(bytes.count == 5 + 3 + 200)
        #expect(Array(bytes[0..<5]) == [0, 0, 0, 0, 203])
        // 200 = 0b1_1001000: low seven bits with the continuation bit, then 1.
        #expect(Array(bytes[5..<8]) == [0x0A, 0xC8, 0x01])
    }

    @Test(arguments: [
        ([UInt8](), GRPCHealthMessage.ServingStatus.unknown),
        ([0x08, 0x01], .serving),
        ([0x08, 0x02], .notServing),
        ([0x08, 0x03], .serviceUnknown),
        ([0x08, 0x07], .other(7)),
        // Unknown fields before the status are skipped: varint field 2, bytes field 3, fixed32 field 4.
        ([0x10, 0x96, 0x01, 0x1A, 0x02, 0x41, 0x42, 0x25, 1, 2, 3, 4, 0x08, 0x01], .serving),
    ])
    func decodesStatus(message: [UInt8], expected: GRPCHealthMessage.ServingStatus) throws {
        let body = [0, 0, 0, 0, UInt8(message.count)] + message
        #expect(try GRPCHealthMessage.status(fromBody: body) == expected)
    }

    @Test func rejectsTruncatedAndCompressedBodies() {
        #expect(throws: GRPCHealthMessage.DecodeError.truncated) {
            try GRPCHealthMessage.status(fromBody: [0, 0, 0])
        }
        #expect(throws: GRPCHealthMessage.DecodeError.truncated) {
            try GRPCHealthMessage.status(fromBody: [0, 0, 0, 0, 4, 0x08, 0x01])
        }
        #expect(throws: GRPCHealthMessage.DecodeError.truncated) {
            try GRPCHealthMessage.status(fromBody: [0, 0, 0, 0, 2, 0x08, 0x81])
        }
        #expect(throws: GRPCHealthMessage.DecodeError.compressed) {
            try GRPCHealthMessage.status(fromBody: [1, 0, 0, 0, 2, 0x08, 0x01])
        }
        #expect(throws: GRPCHealthMessage.DecodeError.malformed("wire type 7 for field 1")) {
            try GRPCHealthMessage.status(fromBody: [0, 0, 0, 0, 2, 0x0F, 0x01])
        }
    }

    @Test func judgesTrailers() {
        let serving: [UInt8] = [0, 0, 0, 0, 2, 0x08, 0x01]
        #expect(GRPCCheckHandler.judge(trailers: ["grpc-status": "0"], body: serving) == "ok")
        #expect(GRPCCheckHandler.judge(trailers: ["grpc-status": "0"], body: []) == "truncated grpc response")
        #expect(GRPCCheckHandler.judge(trailers: ["grpc-status": "5"], body: []) == "unknown service")
        #expect(GRPCCheckHandler.judge(trailers: ["grpc-status": "14"], body: serving) == "grpc-status 14")
        #expect(GRPCCheckHandler.judge(trailers: ["grpc-status": "x"], body: serving) == "invalid grpc-status \"x\"")
        #expect(GRPCCheckHandler.judge(trailers: [:], body: serving) == "no grpc-status in the response")
    }
}
