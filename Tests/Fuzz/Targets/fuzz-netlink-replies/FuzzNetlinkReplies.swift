@_spi(Fuzzing) import IPVS

// libFuzzer target: the netlink reply decoder (message split, attributes, every IPVS decoder) on one datagram,
// and the same bytes as libnftables' terse set listing, which the masquerade table reads to find its live
// set generation.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzNetlinkReplies(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Array(UnsafeBufferPointer(start: data, count: size))
    IPVSReplyFuzzing.decode(bytes)
    for name in NftablesScript.agentSets(inListing: String(decoding: bytes, as: UTF8.self)) {
        if let generation = NftablesScript.generation(ofSet: name) { precondition(generation < 1 << 62) }
    }
    return 0
}
