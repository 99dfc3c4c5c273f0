import IPVSAdmin

// libFuzzer target: the ipvsadm rules file parser (`ipvsctl restore`, `ipvsadm -R` input), numeric only so no
// name lookup reads /etc/hosts or asks DNS.

private let parser = IpvsadmParser(resolver: NumericResolver())

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIpvsadmRules(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    _ = try? RestoreParser.parse(text, parser: parser)
    return 0
}
