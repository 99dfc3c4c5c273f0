import IPVSAdmin

// libFuzzer target: the ipvsadm rules file parser (`ipvsctl restore`, `ipvsadm -R` input), numeric only so no
// name lookup reads /etc/hosts or asks DNS. Each input is read twice, with and without the reader of saved
// rules (`SavedRuleLine`), and the two results must be the same: that reader may only ever answer as the
// general parser would.

private let parser = IpvsadmParser(resolver: NumericResolver())

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzIpvsadmRules(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    let direct = Result { () throws(RestoreFailure) in try RestoreParser.parse(text, parser: parser) }
    let general = Result { () throws(RestoreFailure) in
        try RestoreParser.parse(text, parser: parser, readingSavedRules: false)
    }
    precondition(
        direct == general,
        "the saved-rule reader disagrees with the general parser on \(text.debugDescription)"
    )
    return 0
}
