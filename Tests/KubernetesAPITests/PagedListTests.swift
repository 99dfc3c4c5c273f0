import KubernetesStandIn
import KubernetesWire
import NIOCore
import Synchronization
import Testing

@testable import KubernetesAPI

/// `ListHead` (the continue token read ahead of a page's items) and `PagedList` (the next page fetched while
/// this one is decoded, pages handed on in order, a wrong hint costing only a refetch).
@Suite struct PagedListTests {
    @Test(
        arguments: [
            // As API servers write a list (and the stand-in does).
            (
                #"{"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"9","continue":"c1"},"#
                    + #""items":[]}"#,
                "c1"
            ),
            // White space, escapes and nesting before metadata are skipped; the token's escapes are decoded.
            (
                #" { "kind" : "A\"}{" , "x" : {"y":[1,{"z":"]"}],"w":null} , "n" : -1.5e3 , "metadata" : { "continue" : "a\/b\u0041" } , "items" : [ ] } "#,
                "a/bA"
            ),
            // The last page: no token, or an empty one.
            (#"{"metadata":{"resourceVersion":"9"},"items":[]}"#, nil),
            (#"{"metadata":{"resourceVersion":"9","continue":""},"items":[]}"#, nil),
            // Metadata after the items is not looked for: the full decode decides.
            (#"{"items":[],"metadata":{"continue":"c1"}}"#, nil),
            // A key spelled with escapes matches nothing; so do malformed or cut heads.
            (#"{"meta\u0064ata":{"continue":"c1"},"items":[]}"#, nil),
            (#"{"kind":"List","metadata":{"continue":"c1""#, nil),
            (#"{"kind":"List" "metadata":{"continue":"c1"},"items":[]}"#, nil),
            (#"{"metadata":{"continue":"c1",},"items":[]}"#, nil),
            (#"{"metadata":"c1","items":[]}"#, nil),
            (#"["metadata",{"continue":"c1"}]"#, nil),
            ("", nil),
        ] as [(String, String?)]
    )
    func listHeadReadsTheContinueTokenAheadOfTheItems(text: String, token: String?) {
        #expect(ListHead.continueToken(ByteBuffer(string: text)) == token)
    }

    @Test func listHeadLooksOnlyAtTheFirstBytes() throws {
        let filler = String(repeating: "x", count: ListHead.limit)
        let page = #"{"kind":"\#(filler)","metadata":{"resourceVersion":"9","continue":"c1"},"items":[]}"#
        #expect(ListHead.continueToken(ByteBuffer(string: page)) == nil)
        // The full decode still reads it.
        let decoded = try APIPayloads.page(ByteBuffer(string: page), resource: .services, claiming: nil)
        #expect(decoded.continueToken == "c1")
    }

    /// Page `index`'s one item: Service `s<index>`.
    static func item(_ index: Int) -> String { StandInObjects.service("s\(index)", clusterIP: "10.96.0.\(index)") }

    /// A list of `count` pages of one Service each; page `n` (from 1) continues with token `tn`.
    struct FakeList {
        let count: Int
        /// How a page's head and metadata are written, given its own continue token.
        var page: @Sendable (_ index: Int, _ token: String?) -> String = { index, token in
            let continuePart = token.map { #","continue":"\#($0)""# } ?? ""
            return #"{"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"rv-1"\#(continuePart)},"#
                + #""items":[\#(PagedListTests.item(index))]}"#
        }

        func token(after index: Int) -> String? { index < count ? "t\(index)" : nil }

        func body(for token: String?) throws(KubernetesAPIError) -> ByteBuffer {
            let index = token.map { Int($0.dropFirst())! + 1 } ?? 1
            guard index <= count else { throw KubernetesAPIError(.gone, "no page after \(token ?? "")") }
            return ByteBuffer(string: page(index, self.token(after: index)))
        }
    }

    /// Runs `list` through a `PagedList`, returning what happened in order: `fetch TOKEN` and `page NAME`.
    func run(
        _ list: FakeList,
        decode: @escaping @Sendable (ByteBuffer) throws(KubernetesAPIError) -> APIPayloads.Page = {
            buffer throws(KubernetesAPIError) in try APIPayloads.page(buffer, resource: .services, claiming: nil)
        }
    ) async -> (events: [String], error: KubernetesAPIError?, continued: Bool) {
        let events = Mutex<[String]>([])
        let pages = PagedList(
            fetch: { token throws(KubernetesAPIError) in
                events.withLock { $0.append("fetch \(token ?? "-")") }
                return try list.body(for: token)
            },
            decode: decode
        )
        var continued = false
        do {
            try await pages.forEachPage(continued: &continued) { page in
                events.withLock { $0.append("page " + page.objects.map(\.key.name).joined(separator: ",")) }
            }
            return (events.withLock { $0 }, nil, continued)
        } catch {
            return (events.withLock { $0 }, error, continued)
        }
    }

    @Test func theNextPageIsFetchedBeforeThisOneIsHandedOn() async {
        let (events, error, continued) = await run(FakeList(count: 4))
        #expect(error == nil)
        #expect(continued)
        // Two pages are held at most: the third is asked for once the first is handed on.
        #expect(
            events == [
                "fetch -", "fetch t1", "page s1", "fetch t2", "page s2", "fetch t3", "page s3", "page s4",
            ]
        )
    }

    @Test func aSinglePageListSendsOneRequest() async {
        let (events, error, continued) = await run(FakeList(count: 1))
        #expect(error == nil)
        #expect(!continued)
        #expect(events == ["fetch -", "page s1"])
    }

    @Test func aPageWhoseHeadHidesItsTokenIsDecodedBeforeTheNextIsAskedFor() async {
        var list = FakeList(count: 3)
        list.page = { index, token in
            let continuePart = token.map { #","continue":"\#($0)""# } ?? ""
            return #"{"items":[\#(PagedListTests.item(index))],"metadata":{"resourceVersion":"rv-1"\#(continuePart)}}"#
        }
        let (events, error, _) = await run(list)
        #expect(error == nil)
        #expect(events == ["fetch -", "page s1", "fetch t1", "page s2", "fetch t2", "page s3"])
    }

    @Test func aHintTheDecodeDoesNotConfirmDropsWhatWasFetchedWithIt() async {
        // The decode of the first page gives t2, where its head said t1: the page fetched with t1 (s2) is
        // dropped unread, and the list goes on from t2 (s3, then s4 fetched ahead again).
        let (events, error, _) = await run(FakeList(count: 4)) { buffer throws(KubernetesAPIError) in
            var page = try APIPayloads.page(buffer, resource: .services, claiming: nil)
            if page.continueToken == "t1" { page.continueToken = "t2" }
            return page
        }
        #expect(error == nil)
        #expect(events == ["fetch -", "fetch t1", "page s1", "fetch t2", "fetch t3", "page s3", "page s4"])
    }

    @Test func aPageThatFailsToDecodeEndsTheListWithItsError() async {
        let (events, error, _) = await run(FakeList(count: 4)) { buffer throws(KubernetesAPIError) in
            let page = try APIPayloads.page(buffer, resource: .services, claiming: nil)
            if page.continueToken == "t2" { throw KubernetesAPIError(.malformed, "page two is bad") }
            return page
        }
        #expect(error?.code == .malformed)
        #expect(events.filter { $0.hasPrefix("page") } == ["page s1"])
    }

    @Test func aFailedFetchEndsTheListWithItsError() async {
        // Page 2 says more follow, but the server has none: 410, after a continue request.
        var list = FakeList(count: 2)
        list.page = { index, _ in
            #"{"metadata":{"resourceVersion":"rv-1","continue":"t\#(index)"},"items":[\#(PagedListTests.item(index))]}"#
        }
        let (events, error, continued) = await run(list)
        #expect(error?.code == .gone)
        #expect(continued)
        #expect(events.filter { $0.hasPrefix("page") } == ["page s1"])
    }
}
