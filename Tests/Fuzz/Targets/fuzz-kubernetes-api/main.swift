import KubernetesWire
import NIOCore

// libFuzzer target: the Kubernetes API's payloads as ipvsd reads them. The input is split into watch event
// lines (in chunks whose size the first byte picks, as a server's chunked body arrives), each line decoded
// as an event of both resources, and the whole input decoded as a list page of both and as a Node (the zone
// label read at start). Errors are expected;
// a crash, a trap or a hang is the finding, and so is a continue token read from the page's head
// (`ListHead`, which the next request is sent with) that the page's full decode does not confirm.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzKubernetesAPI(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data, count: size)
    let chunkSize = max(1, Int(bytes.first ?? 1))
    var lines = EventLines(maxLineBytes: 64 << 10)
    var offset = 0
    while offset < size {
        let end = min(size, offset + chunkSize)
        for line in lines.append(ByteBuffer(bytes: bytes[offset..<end])) {
            guard case .event(let buffer) = line else { continue }
            for resource in APIResource.allCases {
                _ = try? APIPayloads.event(buffer, resource: resource, claiming: nil)
            }
        }
        offset = end
    }
    let whole = ByteBuffer(bytes: bytes)
    if let zone = try? APIPayloads.nodeZone(whole), zone.isEmpty || zone.utf8.count > 63 {
        fatalError("Node zone \"\(zone)\" passed as a label value")
    }
    let hint = ListHead.continueToken(whole)
    for resource in APIResource.allCases {
        guard let page = try? APIPayloads.page(whole, resource: resource, claiming: "other") else { continue }
        let token = page.continueToken.flatMap { $0.isEmpty ? nil : $0 }
        // A hint may be missing (the decode then decides); one that is there must be the page's own token.
        if let hint, hint != token { fatalError("ListHead read \(hint), the page holds \(token ?? "none")") }
    }
    return 0
}
