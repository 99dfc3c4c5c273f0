import IPVS
import Testing
import YAMLSyntax

@_spi(Fuzzing) @testable import KubernetesManifests

/// A long manifest file is read in parts on several threads (``YAMLDocumentParts``): the parts must give
/// exactly what one pass gives, objects, errors and their lines alike.
@Suite struct ManifestPartsTests {
    @Test func partsStartAtDocumentMarkersWithTheirLines() {
        let document = "kind: Service\nmetadata: {name: a}\n"
        let text = String(repeating: "---\n" + document, count: 30) + "--- # last\n" + document
        let parts = YAMLDocumentParts.split(text, minimumBytes: 200, maximumParts: 4)
        #expect(parts.count == 4)
        #expect(parts.map { String($0.text) }.joined() == text)
        for part in parts {
            #expect(part.text.hasPrefix("---"))
            let linesBefore = text[..<part.text.startIndex].utf8.filter { $0 == UInt8(ascii: "\n") }.count
            #expect(part.firstLine == linesBefore + 1)
        }
    }

    @Test func textsThatMustNotBeSplitStayWhole() {
        let document = "---\nkind: Service\nmetadata: {name: a}\n"
        let long = String(repeating: document, count: 30)
        // A directive belongs to the document after it.
        #expect(YAMLDocumentParts.split("%YAML 1.1\n" + long, minimumBytes: 200, maximumParts: 4).count == 1)
        // Only a marker followed by a blank or a line break starts a document; `---x` is text.
        let noMarker = String(repeating: "a: |\n  ---x\n", count: 100)
        #expect(YAMLDocumentParts.split(noMarker, minimumBytes: 200, maximumParts: 4).count == 1)
        // Shorter than two parts.
        #expect(YAMLDocumentParts.split(long, minimumBytes: long.utf8.count, maximumParts: 4).count == 1)
        #expect(YAMLDocumentParts.split(long, minimumBytes: 200, maximumParts: 1).count == 1)
    }

    /// A file of a few MiB (several parts on any machine with two cores or more) reads as one pass reads it.
    @Test func aLongFileReadsAsOnePassReadsIt() throws {
        let text = Self.cluster(services: 4_000)
        let parts = YAMLDocumentParts.split(
            text,
            minimumBytes: ManifestLoader.partBytes,
            maximumParts: InParts.maximumParts
        )
        #expect(parts.count == min(2, InParts.maximumParts))
        let inParts = ManifestLoader.parseFile(text, file: "big.yaml")
        let onePass = try ManifestLoader.parse(text, file: "big.yaml")
        #expect(inParts.errors.isEmpty)
        #expect(inParts.set == onePass)
        #expect(inParts.set.services.count == 4_000)
        #expect(inParts.definitions.count == 8_000)
    }

    /// Errors keep their lines across parts, and a syntax error ends the read where one pass ends it: the
    /// documents after it are not read (their errors are not reported).
    @Test func errorsKeepTheirLinesAndASyntaxErrorEndsTheRead() throws {
        var text = Self.cluster(services: 4_000)
        // A bad port near the end (in the last part), and a syntax error before it in a later run.
        let badPort = "port: 80, targetPort: 8080}\n"
        let last = text.range(of: badPort, options: .backwards)!
        text.replaceSubrange(last, with: "port: 70000, targetPort: 8080}\n")
        let inParts = ManifestLoader.parseFile(text, file: "big.yaml")
        let onePass = Self.errors(text)
        #expect(inParts.errors.count == 1)
        #expect(inParts.errors.map(\.description) == onePass)

        let middle = text.index(text.startIndex, offsetBy: text.utf8.count / 4)
        let line = text[middle...].range(of: "\nspec:\n")!
        var broken = text
        broken.replaceSubrange(line, with: "\nspec: [\n")
        let brokenInParts = ManifestLoader.parseFile(broken, file: "big.yaml")
        #expect(brokenInParts.errors.map(\.description) == Self.errors(broken))
        #expect(brokenInParts.errors.contains { $0.message.hasPrefix("invalid YAML") })
        #expect(!brokenInParts.errors.contains { $0.description.contains("70000") })
    }

    /// An object defined twice fails the file whether its definitions share a part or not; in different
    /// parts the second is decoded too and its own errors join the duplicate (found by fuzz-manifests: one
    /// pass reported nothing for the file's text alone, parts the second definition's bad addressType).
    @Test func anObjectDefinedTwiceFailsInPartsAndInOnePass() {
        let slice = """
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: {name: web-1, namespace: default, labels: {kubernetes.io/service-name: web}}
            addressType: %@
            endpoints:
            - addresses: [10.244.2.21]

            """
        let text =
            slice.replacingOccurrences(of: "%@", with: "IPv4")
            + slice.replacingOccurrences(of: "%@", with: "IPv9")
        let inParts = ManifestLoader.parseFile(text, file: "dup.yaml", partBytes: 64, maximumParts: 4)
        let onePass = ManifestLoader.parseFile(text, file: "dup.yaml", partBytes: .max)
        #expect(YAMLDocumentParts.split(text, minimumBytes: 64, maximumParts: 4).count == 2)
        #expect(onePass.errors.isEmpty)
        #expect(
            inParts.errors.map(\.description) == ["dup.yaml:12: addressType: must be IPv4, IPv6 or FQDN, got \"IPv9\""]
        )
        for read in [inParts, onePass] {
            #expect(read.definitions.map(\.key) == Array(repeating: "EndpointSlice default/web-1", count: 2))
        }
        #expect(ManifestPartsFuzzing.disagreement(text, partBytes: 64) == nil)
    }

    /// A later part's lines count every line break libyaml counts before it (found by fuzz-manifests with a
    /// lone carriage return): CR, LF, CR LF, NEL, LS and PS each end one line.
    @Test(arguments: ["\r", "\r\n", "\u{85}", "\u{2028}", "\u{2029}"])
    func laterPartsCountEveryLineBreak(lineBreak: String) {
        let first = ["kind: Foo", "apiVersion: v1", "metadata: {name: a}"].joined(separator: lineBreak)
        let later = String(repeating: "---\nkind: Bar\napiVersion: v1\nmetadata: {name: b}\n", count: 3)
        let text = first + "\n" + later + "---\napiVersion: v1\nkind: Service\nmetadata: {name: 9}\n"
        #expect(YAMLDocumentParts.split(text, minimumBytes: 64, maximumParts: 4).count > 1)
        let inParts = ManifestLoader.parseFile(text, file: "breaks.yaml", partBytes: 64, maximumParts: 4)
        let onePass = ManifestLoader.parseFile(text, file: "breaks.yaml", partBytes: .max)
        #expect(inParts.errors.map(\.description) == onePass.errors.map(\.description))
        #expect(inParts.errors.count == 1)
        #expect(inParts.errors.first?.line == 19)
        #expect(inParts.set.notes == onePass.set.notes)
    }

    private static func errors(_ text: String) -> [String] {
        do {
            _ = try ManifestLoader.parse(text, file: "big.yaml")
            return []
        } catch {
            return error.errors.map(\.description)
        }
    }

    /// `services` Services with one EndpointSlice of ten endpoints each, as one multi-document file.
    static func cluster(services: Int) -> String {
        var text = ""
        for index in 0..<services {
            text += """
                apiVersion: v1
                kind: Service
                metadata: {name: s\(index), namespace: bench}
                spec:
                  clusterIP: 10.96.\(index / 250).\(index % 250 + 1)
                  ports:
                  - {name: http, port: 80, targetPort: 8080}
                ---
                apiVersion: discovery.k8s.io/v1
                kind: EndpointSlice
                metadata: {name: s\(index)-1, namespace: bench, labels: {kubernetes.io/service-name: s\(index)}}
                addressType: IPv4
                ports:
                - {name: http, protocol: TCP, port: 8080}
                endpoints:

                """
            for server in 0..<10 {
                text +=
                    "- addresses: [10.1.\(index / 250).\(index % 25 * 10 + server + 1)]\n  conditions: {ready: true}\n"
            }
            text += "---\n"
        }
        return text
    }
}
