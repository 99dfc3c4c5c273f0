/// The two grpc.health.v1 messages a check exchanges, encoded by hand: each is one small protobuf field, so
/// swift-protobuf would be a large dependency for a few bytes.
enum GRPCHealthMessage {
    /// `HealthCheckResponse.ServingStatus`.
    enum ServingStatus: Equatable {
        case unknown
        case serving
        case notServing
        case serviceUnknown
        case other(UInt64)

        init(_ value: UInt64) {
            switch value {
            case 0: self = .unknown
            case 1: self = .serving
            case 2: self = .notServing
            case 3: self = .serviceUnknown
            default: self = .other(value)
            }
        }

        /// `ok`, or why the check failed.
        var reason: String {
            switch self {
            case .serving: "ok"
            case .notServing: "not serving"
            case .unknown: "serving status unknown"
            case .serviceUnknown: "unknown service"
            case .other(let value): "serving status \(value)"
            }
        }
    }

    /// Why a response body could not be read.
    enum DecodeError: Error, Equatable, CustomStringConvertible {
        case truncated
        case compressed
        case malformed(String)

        var description: String {
            switch self {
            case .truncated: "truncated grpc response"
            case .compressed: "compressed grpc response"
            case .malformed(let why): "malformed grpc response: \(why)"
            }
        }
    }

    /// The length-prefixed `HealthCheckRequest { string service = 1; }`.
    static func request(service: String) -> [UInt8] {
        var message: [UInt8] = []
        // proto3 leaves an empty string out, as generated code does.
        if !service.isEmpty {
            message.append(0x0A)  // field 1, wire type 2 (length-delimited)
            appendVarint(UInt64(service.utf8.count), to: &message)
            message += service.utf8
        }
        let length = UInt32(message.count)
        // Compressed flag 0, then the message length as a big-endian UInt32.
        return [0, UInt8(length >> 24), UInt8(length >> 16 & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length & 0xFF)]
            + message
    }

    /// Reads the serving status from a response body: one length-prefixed `HealthCheckResponse`.
    static func status(fromBody body: [UInt8]) throws(DecodeError) -> ServingStatus {
        guard body.count >= 5 else { throw .truncated }
        guard body[0] == 0 else { throw body[0] == 1 ? .compressed : .malformed("flag \(body[0])") }
        let length = body[1...4].reduce(0) { $0 << 8 | Int($1) }
        guard body.count - 5 >= length else { throw .truncated }
        return try status(fromMessage: body[5..<5 + length])
    }

    /// Reads `HealthCheckResponse { ServingStatus status = 1; }`, skipping fields it does not know; a missing
    /// status is proto3's default, UNKNOWN.
    static func status(fromMessage message: ArraySlice<UInt8>) throws(DecodeError) -> ServingStatus {
        var index = message.startIndex
        var status: UInt64 = 0
        while index < message.endIndex {
            let tag = try varint(message, &index)
            let (field, wireType) = (tag >> 3, tag & 7)
            switch wireType {
            case 0:
                let value = try varint(message, &index)
                if field == 1 { status = value }
            case 1, 5:
                let size = wireType == 1 ? 8 : 4
                guard message.endIndex - index >= size else { throw .truncated }
                index += size
            case 2:
                let size = try varint(message, &index)
                guard UInt64(message.endIndex - index) >= size else { throw .truncated }
                index += Int(size)
            default:
                throw .malformed("wire type \(wireType) for field \(field)")
            }
        }
        return ServingStatus(status)
    }

    static func appendVarint(_ value: UInt64, to bytes: inout [UInt8]) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(value & 0x7F) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    private static func varint(_ bytes: ArraySlice<UInt8>, _ index: inout Int) throws(DecodeError) -> UInt64 {
        var value: UInt64 = 0
        var shift: UInt64 = 0
        while index < bytes.endIndex {
            let byte = bytes[index]
            index += 1
            guard shift < 64 else { throw .malformed("varint longer than 10 bytes") }
            value |= UInt64(byte & 0x7F) << shift
            if byte < 0x80 { return value }
            shift += 7
        }
        throw .truncated
    }
}
