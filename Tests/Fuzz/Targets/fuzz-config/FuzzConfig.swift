import Agent

// libFuzzer target: the agent's config parser on one config file's text.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzConfig(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    guard let config = try? AgentConfiguration.parse(text, file: "fuzz.yaml") else { return 0 }
    // An accepted metricsAddress must parse as a listener takes it.
    if !config.metricsAddress.isEmpty, (try? ListenAddress(parsing: config.metricsAddress)) == nil {
        fatalError("accepted metricsAddress \"\(config.metricsAddress)\" does not parse")
    }
    return 0
}
