import IPVS

/// Netlink bytes for the floor: headers, attributes and nests, little-endian as on x86-64 and arm64.
struct FloorWriter {
    var bytes: [UInt8] = []

    /// Appends one generic-netlink request with NLM_F_REQUEST | NLM_F_ACK.
    mutating func message(type: UInt16, command: UInt8, version: UInt8, sequence: UInt32, _ body: (inout Self) -> Void)
    {
        let start = bytes.count
        put32(0)
        put16(type)
        put16(0x1 | 0x4)
        put32(sequence)
        put32(0)
        bytes += [command, version, 0, 0]
        body(&self)
        patch32(at: start, UInt32(bytes.count - start))
    }

    mutating func attribute(_ type: UInt16, _ payload: [UInt8]) {
        put16(UInt16(4 + payload.count))
        put16(type)
        bytes += payload
        pad()
    }

    mutating func nest(_ type: UInt16, _ body: (inout Self) -> Void) {
        let start = bytes.count
        put16(0)
        put16(type | 0x8000)  // NLA_F_NESTED
        body(&self)
        let length = UInt16(bytes.count - start)
        bytes[start] = UInt8(length & 0xFF)
        bytes[start + 1] = UInt8(length >> 8)
    }

    /// IPVS_CMD_NEW_SERVICE or IPVS_CMD_NEW_DEST; anything else is not part of the workload.
    mutating func request(_ operation: IPVSOperation, family: UInt16, sequence: UInt32) throws {
        switch operation {
        case .addService(let service):
            message(type: family, command: 1, version: 1, sequence: sequence) { w in
                w.nest(1) { s in
                    s.serviceID(service.id)
                    s.attribute(6, Array(service.scheduler.rawValue.utf8) + [0])  // SCHED_NAME
                    s.attribute(7, Self.le(service.flags.rawValue) + Self.le(~UInt32(0)))  // FLAGS {flags, mask}
                    s.attribute(8, Self.le(service.timeout))  // TIMEOUT
                    s.attribute(9, Self.le(service.netmask.bigEndian))  // NETMASK (be32 for IPv4)
                }
            }
        case .addServer(let server, let id):
            message(type: family, command: 5, version: 1, sequence: sequence) { w in
                w.nest(1) { $0.serviceID(id) }
                w.nest(2) { d in
                    d.attribute(11, Self.le16(server.address.family.rawValue))  // ADDR_FAMILY
                    d.attribute(1, Self.inet(server.address))  // ADDR
                    d.attribute(2, Self.be16(server.port))  // PORT
                    d.attribute(3, Self.le(server.forwarding.rawValue))  // FWD_METHOD
                    d.attribute(4, Self.le(server.weight))  // WEIGHT
                    d.attribute(5, Self.le(server.upperThreshold))  // U_THRESH
                    d.attribute(6, Self.le(server.lowerThreshold))  // L_THRESH
                }
            }
        default:
            throw BenchError("floor: \(operation) is not part of the programming workload")
        }
    }

    private mutating func serviceID(_ id: VirtualServer.ID) {
        guard case .service(let proto, let address, let port) = id else { return }
        attribute(1, Self.le16(address.family.rawValue))  // AF
        attribute(2, Self.le16(proto.rawValue))  // PROTOCOL
        attribute(3, Self.inet(address))  // ADDR
        attribute(4, Self.be16(port))  // PORT
    }

    private static func inet(_ address: IPAddress) -> [UInt8] {
        address.bytes + [UInt8](repeating: 0, count: 16 - address.bytes.count)
    }
    private static func le(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    private static func le16(_ value: UInt16) -> [UInt8] { withUnsafeBytes(of: value.littleEndian, Array.init) }
    private static func be16(_ value: UInt16) -> [UInt8] { withUnsafeBytes(of: value.bigEndian, Array.init) }

    private mutating func put16(_ value: UInt16) { bytes += Self.le16(value) }
    private mutating func put32(_ value: UInt32) { bytes += Self.le(value) }
    private mutating func pad() { while bytes.count % 4 != 0 { bytes.append(0) } }
    private mutating func patch32(at offset: Int, _ value: UInt32) {
        for index in 0..<4 { bytes[offset + index] = UInt8(truncatingIfNeeded: value >> (8 * index)) }
    }
}
