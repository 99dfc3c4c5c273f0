import Agent
import Foundation

// libFuzzer target: the state file reader, AgentState.decode, which AgentStateFile.load calls on the file's
// bytes (JSON to AgentState, then every owned and pending virtual server it names). A state that reads must
// also survive the writer: AgentState.encoded, read back, gives the same state.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzStateFile(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = Data(UnsafeBufferPointer(start: data, count: size))
    guard let state = try? AgentState.decode(bytes) else { return 0 }
    guard let again = try? AgentState.decode(Data(state.encoded())), again == state else {
        fatalError("a state file that reads does not read back the same once written")
    }
    return 0
}
