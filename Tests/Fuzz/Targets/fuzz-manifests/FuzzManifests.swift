@_spi(Fuzzing) import KubernetesManifests
import YAMLSyntax

// libFuzzer target: the manifest decoder and the translation to desired state, on one manifest file's text.
// Errors are expected; a crash, a trap or a hang is the finding, and so is a text that reads differently in
// parts (as a long file is read, on several threads) than in one pass.

private let options = TranslationOptions(serviceCIDRs: [IPNetwork("10.96.0.0/12")!, IPNetwork("fd00:10:96::/108")!])

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzManifests(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    // Parts of at least 64 bytes: a short input already splits where a multi-MiB file would.
    if let disagreement = ManifestPartsFuzzing.disagreement(text, partBytes: 64) {
        fatalError("reading in parts differs from one pass: \(disagreement)")
    }
    guard let set = try? ManifestLoader.parse(text, file: "fuzz.yaml") else { return 0 }
    _ = try? DesiredStateBuilder.build(set, options: options, allocations: ClusterIPAllocations())
    return 0
}
