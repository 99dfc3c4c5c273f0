import KubernetesWire
import NIOCore

/// The pages of one list, each decoded on another thread while the next is fetched.
///
/// A list's pages come one after another (each request carries the continue token of the page before), and
/// decoding a page of 500 EndpointSlices takes longer than the server takes to send the next. So the next
/// page is asked for as soon as this one's token is seen in its head (`ListHead`), and up to ``window`` pages
/// are decoded at once, off the fetching task. Pages reach `body` in list order, each once.
///
/// The head's token is a hint: when a page's full decode gives another token (or the head showed none), the
/// pages fetched after it are dropped unread and the list goes on from the decoded token, as a list without
/// prefetching would. Memory stays bounded: at most ``window`` fetched pages wait or are being decoded.
struct PagedList: Sendable {
    /// Pages fetched ahead of the one `body` receives, and decoded at once.
    static let window = 2

    /// GETs the page after `continueToken` (the first page for nil).
    let fetch: @Sendable (_ continueToken: String?) async throws(KubernetesAPIError) -> ByteBuffer
    let decode: @Sendable (ByteBuffer) throws(KubernetesAPIError) -> APIPayloads.Page

    /// A page fetched, its decode under way.
    private struct Pending {
        /// The continue token its head showed, with which the next page was asked for.
        let hint: String?
        let decoding: Task<Result<APIPayloads.Page, KubernetesAPIError>, Never>
    }

    /// Fetches and decodes every page, handing each to `body` in order.
    /// - Parameter continued: set once a request carrying a continue token was sent (a 410 after that is an
    ///   expired snapshot, and the list can start again).
    /// - Throws: the first failed request or decode, or what `body` throws; pages after it are not given.
    func forEachPage(
        continued: inout Bool,
        _ body: (APIPayloads.Page) async throws(KubernetesAPIError) -> Void
    ) async throws(KubernetesAPIError) {
        var pending: [Pending] = []
        defer { for page in pending { page.decoding.cancel() } }
        // The token of the next request: .some(nil) for the first page; nil while the next is not known.
        var next: String?? = .some(nil)
        while true {
            if let token = next, pending.count < Self.window {
                if token != nil { continued = true }
                let buffer = try await fetch(token)
                let hint = ListHead.continueToken(buffer)
                let decode = decode
                pending.append(
                    Pending(
                        hint: hint,
                        decoding: Task.detached { Result { () throws(KubernetesAPIError) in try decode(buffer) } }
                    )
                )
                next = hint.map { .some($0) }
                continue
            }
            guard !pending.isEmpty else { return }
            let oldest = pending.removeFirst()
            let page = try await oldest.decoding.value.get()
            try await body(page)
            let token = page.continueToken.flatMap { $0.isEmpty ? nil : $0 }
            if token != oldest.hint {
                // Asked for with a token this page does not hold (or it showed none): drop what followed.
                for dropped in pending { dropped.decoding.cancel() }
                pending.removeAll()
                next = token.map { .some($0) }
            }
        }
    }
}
