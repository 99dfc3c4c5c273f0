import AgentAPI
import NIOCore
import NIOEmbedded
import NIOHTTP1

// libFuzzer target: raw bytes as HTTP/1 requests on the admin socket, through NIOHTTP1's decoder (what the
// admin server's HTTP stack runs), each request head routed by AdminRoute.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzAdminRequest(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let channel = EmbeddedChannel(handler: ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
    defer { _ = try? channel.finish() }
    var buffer = channel.allocator.buffer(capacity: size)
    buffer.writeBytes(UnsafeBufferPointer(start: data, count: size))
    guard (try? channel.writeInbound(buffer)) != nil else { return 0 }
    while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) {
        guard case .head(let head) = part else { continue }
        if let route = AdminRoute.parse(method: head.method.rawValue, uri: head.uri) {
            // A route is found only for its own method and path.
            precondition(route.method == head.method.rawValue && head.uri.hasPrefix(route.path))
        }
    }
    return 0
}
