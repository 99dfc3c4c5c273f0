@_spi(Fuzzing) import IPVS

// libFuzzer target: the netlink reply decoder (message split, attributes, every IPVS decoder) on one datagram.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNetlinkReplies(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    IPVSReplyFuzzing.decode(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
