import Foundation
import IPVS
import KubernetesManifests
import KubernetesStandIn
import KubernetesWire
import NIOCore
import ServiceTables
import Testing

@testable import KubernetesAPI

@Suite struct PayloadTests {
    @Test func eventLinesSplitAcrossChunksAndDropOversizedLines() {
        var lines = EventLines(maxLineBytes: 10)
        var out: [String] = []
        func feed(_ text: String) {
            for line in lines.append(ByteBuffer(string: text)) {
                switch line {
                case .event(let buffer): out.append(String(buffer: buffer))
                case .oversized(let length): out.append("oversized \(length)")
                }
            }
        }
        feed("{\"a\":")
        feed("1}\n{\"b\":2}\n\n")
        feed("0123456789")
        feed("abc\n{}")
        #expect(out == [#"{"a":1}"#, #"{"b":2}"#, "oversized 13"])
        #expect(lines.hasPartialLine)
        feed("\n")
        #expect(out.last == "{}")
        #expect(!lines.hasPartialLine)
    }

    @Test func listPageItemsWithoutKindDecodeWithTheManifestRules() throws {
        let page = """
            {"kind":"ServiceList","apiVersion":"v1","metadata":{"resourceVersion":"rv-9-z","continue":"tok"},"items":[\
            \(StandInObjects.service("web", clusterIP: "10.96.0.10")),\
            {"metadata":{"name":"bad","namespace":"default"},"spec":{"clusterIP":"10.96.0.11","ports":[{"port":70000}]}},\
            \(StandInObjects.service("other", clusterIP: "10.96.0.12", labels: ["service.kubernetes.io/service-proxy-name": "cilium"]))]}
            """
        let decoded = try APIPayloads.page(ByteBuffer(string: page), resource: .services, claiming: nil)
        #expect(decoded.resourceVersion == "rv-9-z")
        #expect(decoded.continueToken == "tok")
        #expect(decoded.objects.map(\.key.name) == ["web", "bad", "other"])
        guard case .success(.service(let web)) = decoded.objects[0].value else {
            Issue.record("web did not decode")
            return
        }
        #expect(web.ports.first?.port == 80)
        guard case .failure(let errors) = decoded.objects[1].value else {
            Issue.record("a port of 70000 was accepted")
            return
        }
        #expect(errors.description.contains("Service default/bad"))
        #expect(errors.description.contains("spec.ports[0].port: must be an integer 1...65535, got 70000"))
        guard case .success(.notOurs) = decoded.objects[2].value else {
            Issue.record("a Service of another proxy was taken")
            return
        }
        let claimed = try APIPayloads.page(ByteBuffer(string: page), resource: .services, claiming: "cilium")
        guard case .success(.service) = claimed.objects[2].value else {
            Issue.record("a claimed proxy name was skipped")
            return
        }
    }

    @Test func watchEventsBookmarksAndErrors() throws {
        let slice = StandInObjects.slice("web-1", service: "web", addresses: [], port: 8080)
        guard
            case .added(let read) = try APIPayloads.event(
                ByteBuffer(string: #"{"type":"ADDED","object":\#(slice)}"#),
                resource: .endpointSlices,
                claiming: nil
            ), case .success(.endpointSlice(.some(let decoded))) = read.value
        else {
            Issue.record("slice with endpoints: null did not decode")
            return
        }
        #expect(decoded.endpoints.isEmpty)
        guard
            case .bookmark("rv-5-q") = try APIPayloads.event(
                ByteBuffer(
                    string:
                        #"{"type":"BOOKMARK","object":{"kind":"Service","apiVersion":"v1","metadata":{"resourceVersion":"rv-5-q"}}}"#
                ),
                resource: .services,
                claiming: nil
            )
        else {
            Issue.record("bookmark")
            return
        }
        guard
            case .error(410, let message) = try APIPayloads.event(
                ByteBuffer(
                    string:
                        #"{"type":"ERROR","object":{"kind":"Status","code":410,"reason":"Expired","message":"too old"}}"#
                ),
                resource: .services,
                claiming: nil
            )
        else {
            Issue.record("410 error event")
            return
        }
        #expect(message == "too old")
        for garbage in ["{", "[]", #"{"type":"SOMETHING","object":{}}"#, #"{"type":"ADDED"}"#, "\u{FF}"] {
            #expect(throws: KubernetesAPIError.self) {
                _ = try APIPayloads.event(ByteBuffer(string: garbage), resource: .services, claiming: nil)
            }
        }
    }

    @Test func headlessSlicesAreNotOurs() throws {
        let slice = StandInObjects.slice("h-1", service: "h", addresses: ["10.1.0.1"], port: 80)
            .replacingOccurrences(
                of: #""kubernetes.io/service-name":"h""#,
                with: #""kubernetes.io/service-name":"h","service.kubernetes.io/headless":"""#
            )
        guard
            case .added(let read) = try APIPayloads.event(
                ByteBuffer(string: #"{"type":"ADDED","object":\#(slice)}"#),
                resource: .endpointSlices,
                claiming: nil
            ), case .success(.notOurs) = read.value
        else {
            Issue.record("a headless slice was taken")
            return
        }
    }

    @Test func retryAfterBackoffGrowsWithJitterWithinBounds() {
        var backoff = Backoff(initial: .milliseconds(100), maximum: .milliseconds(400))
        let waits = (0..<5).map { _ in backoff.next() }
        let ceilings: [Duration] = [
            .milliseconds(100), .milliseconds(200), .milliseconds(400), .milliseconds(400), .milliseconds(400),
        ]
        for (wait, ceiling) in zip(waits, ceilings) {
            #expect(wait <= ceiling && wait >= ceiling / 2, "\(wait) outside [\(ceiling / 2), \(ceiling)]")
        }
        backoff.reset()
        #expect(backoff.next() <= .milliseconds(100))
        #expect(
            ResourceWatcher.delay(for: KubernetesAPIError(.tooManyRequests, "x", retryAfter: 7), backoff: &backoff)
                == .seconds(7)
        )
    }
}

/// The fuzzer's seeds (Tests/Fuzz/Corpus/kubernetes-api) are valid payloads, so mutations start past the
/// first checks.
@Suite struct KubernetesAPIFuzzSeedTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../Fuzz/Corpus/kubernetes-api").standardized.path

    @Test func eventSeedsDecode() throws {
        let text = try String(contentsOfFile: Self.corpus + "/events.jsonl", encoding: .utf8)
        var lines = EventLines(maxLineBytes: 1 << 20)
        let events = lines.append(ByteBuffer(string: text))
        #expect(events.count == 5)
        for (index, line) in events.enumerated() {
            guard case .event(let buffer) = line else {
                Issue.record("line \(index) oversized")
                continue
            }
            let resource: APIResource = index == 1 || index == 2 ? .endpointSlices : .services
            let event = try APIPayloads.event(buffer, resource: resource, claiming: nil)
            switch event {
            case .added(let read), .modified(let read), .deleted(let read):
                if case .failure(let errors) = read.value { Issue.record("seed \(index): \(errors)") }
            case .bookmark, .error: break
            }
        }
    }

    @Test(arguments: [("service-list.json", APIResource.services), ("slice-list.json", .endpointSlices)])
    func listSeedsDecode(name: String, resource: APIResource) throws {
        let text = try String(contentsOfFile: Self.corpus + "/" + name, encoding: .utf8)
        let page = try APIPayloads.page(ByteBuffer(string: text), resource: resource, claiming: nil)
        #expect(page.objects.count == 2 && page.unkeyed.isEmpty)
        // The next page is asked for with the token read from the head (the service seed has one).
        #expect(ListHead.continueToken(ByteBuffer(string: text)) == page.continueToken)
        for object in page.objects {
            if case .failure(let errors) = object.value { Issue.record("\(object.key): \(errors)") }
        }
    }
}
