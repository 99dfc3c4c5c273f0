import Agent
import Foundation

// libFuzzer target: the state file reader, as AgentStateFile.load decodes it (JSON to AgentState), then the
// owned virtual servers it names.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStateFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    guard let state = try? JSONDecoder().decode(AgentState.self, from: bytes) else { return 0 }
    _ = try? state.ownedIDs()
    return 0
}
