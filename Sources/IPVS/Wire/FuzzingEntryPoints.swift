/// Entry points for the libFuzzer targets in Tests/Fuzz: the reply decoding the client does, on bytes that
/// did not come from a kernel. Not for other use; the SPI keeps them out of the module's ordinary API.
@_spi(Fuzzing)
public enum IPVSReplyFuzzing {
    /// Decodes `datagram` as a reply datagram the way a listing does, with every decoder on each message.
    /// - Returns: how many values decoded without error (so the work cannot be optimized away).
    @discardableResult
    public static func decode(_ datagram: [UInt8]) -> Int {
        var decoded = 0
        try? NetlinkMessage.forEachAcknowledgement(in: datagram[...]) { _, _ in decoded += 1 }
        guard let messages = try? NetlinkMessage.split(datagram[...]) else { return decoded }
        for message in messages {
            if message.type == NetlinkMessage.error {
                if (try? message.errorCode()) != nil { decoded += 1 }
                continue
            }
            guard let (_, body) = try? message.genericPayload(),
                let top = try? NetlinkAttributes(body, context: "fuzz")
            else { continue }
            if (try? IPVSDecoder.service(top)) != nil { decoded += 1 }
            if (try? IPVSDecoder.serviceID(top)) != nil { decoded += 1 }
            if (try? IPVSDecoder.server(top, serviceFamily: .inet)) != nil { decoded += 1 }
            if (try? IPVSDecoder.server(top, serviceFamily: .inet6)) != nil { decoded += 1 }
            if (try? IPVSDecoder.timeouts(top)) != nil { decoded += 1 }
            if (try? IPVSDecoder.info(top)) != nil { decoded += 1 }
            if (try? IPVSDecoder.daemon(top)) != nil { decoded += 1 }
        }
        return decoded
    }
}
