import Agent
import Foundation

// libFuzzer target: the state file reader, AgentState.decode, which AgentStateFile.load calls on the file's
// bytes (JSON to AgentState, then every owned and pending virtual server it names).

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStateFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    _ = try? AgentState.decode(bytes)
    return 0
}
