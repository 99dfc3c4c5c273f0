import Testing
import YAMLSyntax
import Yams

/// The composer that replaced Yams' own (`YAMLComposer`, `YAMLTree`): the same nodes, keys and errors.
@Suite struct YAMLComposerTests {
    private func parse(_ text: String) throws -> LocatedYAML { try LocatedYAML.parse(text, file: "t.yaml") }

    private func parseError(_ text: String) -> String? {
        do throws(LocatedError) {
            _ = try LocatedYAML.parseAll(text, file: "t.yaml")
            return nil
        } catch {
            return error.description
        }
    }

    /// Texts whose trees must equal Yams' (Yams' `==` compares texts and resolved tags, not lines).
    static let samples = [
        "a: 1\nb: [x, 'y', \"z\", ~, null, '', true, 0x1F, 0o17, 1.5e3, .inf]\n",
        "k: !!str 80\nl: !!int \"7\"\nm: ! plain\nn: !custom {x: 1}\no: !!seq [1]\n",
        "base: &b {app: web, tier: [front, back]}\nuse: *b\nagain: [*b, *b]\n",
        "text: |\n  line one\n  line two\nfolded: >\n  a\n  b\n",
        "? [complex, key]\n: value\n? {map: key}\n: other\n",
        "{\"kind\": \"List\", \"items\": [{\"a\": 1}, {\"b\": \"2\"}], \"empty\": {}, \"none\": null}",
        "1: int\n\"1\": str\ntrue: bool\n\"true\": string\n",
        "",
        "just a scalar",
    ]

    @Test(arguments: samples) func treesEqualYamsComposition(text: String) throws {
        let doc = try parse(text)
        if let yams = try Yams.compose(yaml: text) {
            #expect(doc.node == yams)
        } else {
            #expect(try doc.asMapping().isEmpty)
        }
    }

    /// `checkMapping` is `asMapping` without the entries: the same verdict and the same error for every kind of
    /// node and key, from YAML and from JSON.
    @Test(arguments: [
        "a: 1\nb: x\n", "\"quoted\": 1\n", "1: one\n", "true: yes\n", "? [a]\n: list key\n", "- a\n- b\n", "plain\n",
        "{}\n", "'single': 1\n", "null: n\n",
    ])
    func checkMappingAgreesWithAsMapping(text: String) throws {
        let node = try LocatedYAML.parse(text, file: "t.yaml")
        func verdict(_ body: () throws(LocatedError) -> Void) -> String {
            do throws(LocatedError) {
                try body()
                return "ok"
            } catch {
                return "\(error)"
            }
        }
        let built = verdict { () throws(LocatedError) in _ = try node.asMapping() }
        #expect(built == verdict { () throws(LocatedError) in try node.checkMapping() })
    }

    @Test func checkMappingAcceptsJSONObjectsAndRefusesTheRest() throws {
        try LocatedYAML.parseJSON(#"{"a": {"b": [1]}, "80": true}"#, file: "t.json").checkMapping()
        #expect(throws: LocatedError.self) { try LocatedYAML.parseJSON("[1]", file: "t.json").checkMapping() }
    }

    @Test func handMadeNodesRoundTrip() throws {
        let node: Node = ["name": "web", "ports": [["port": 80]], "quoted": Node("80", .implicit, .doubleQuoted)]
        let doc = LocatedYAML(node: node, file: "hand")
        #expect(doc.node == node)
        #expect(try doc.string("name") == "web")
        #expect(try doc.required("ports").asList().first?.int("port") == 80)
        #expect(try doc.string("quoted") == "80")
    }

    @Test func duplicateKeysAreRefusedAtTheFirstOfThem() {
        #expect(parseError("x: 0\na: 1\nb: 2\na: 3\n") == "t.yaml:2: duplicate key in mapping: a")
        // A quoted key is the same string as a plain one; several duplicates are listed sorted.
        #expect(
            parseError("b: 1\na: 1\n\"b\": 2\n'a': 3\n") == "t.yaml:2: duplicate key in mapping: a, b"
        )
        #expect(parseError("m: {k: 1, k: 2}\n") == "t.yaml:1: duplicate key in mapping: k")
        #expect(
            parseError("? [a, b]\n: 1\n? [a, b]\n: 2\n")
                == "t.yaml:1: duplicate key in mapping: <uncovertable>"
        )
    }

    @Test func keysOfOtherTypesAreNotDuplicates() throws {
        // `1` is an int, `"1"` a string; `true` a bool, `"true"` a string. A lookup by name means the plain
        // key, as in Yams.
        let doc = try parse("1: int\n\"1\": str\ntrue: bool\n\"true\": string\n")
        #expect(try doc.string("1") == "int")
        #expect(try doc.string("true") == "bool")
        #expect(throws: LocatedError.self) { try doc.asMapping() }
    }

    /// As Kubernetes (Go) compares keys: canonically equivalent texts are two keys, in a small mapping and in
    /// a large one (past a dozen keys a dictionary of Swift strings, which equates them, finds candidates).
    @Test func keysAreComparedByteForByte() throws {
        let (precomposed, decomposed) = ("caf\u{E9}", "cafe\u{301}")
        #expect(parseError("\(precomposed): 1\n\(decomposed): 2\n") == nil)
        let many = (0..<20).map { "k\($0): \($0)" } + ["\(precomposed): 1", "\(decomposed): 2"]
        #expect(parseError(many.joined(separator: "\n")) == nil)
        // U+212A KELVIN SIGN is canonically K: a Swift string comparison says "\u{212A}ind" == "Kind".
        let kelvin = try parse("\u{212A}ind: kelvin\n")
        #expect(try kelvin.string("Kind") == nil)
        #expect(try kelvin.string("\u{212A}ind") == "kelvin")
    }

    @Test func largeMappingsFindDuplicatesToo() {
        // Past a dozen keys the check goes through a dictionary of key texts.
        let keys = (0..<40).map { "k\($0): \($0)" }
        #expect(
            parseError((keys + ["k7: again"]).joined(separator: "\n"))
                == "t.yaml:8: duplicate key in mapping: k7"
        )
        // Same text, other tags: `1` (int) and `"1"` (string) differ, a second plain `1` is the first again.
        let mixed = keys + ["1: a", "\"1\": b"]
        #expect(parseError(mixed.joined(separator: "\n")) == nil)
        #expect(
            parseError((mixed + ["1: c"]).joined(separator: "\n"))
                == "t.yaml:41: duplicate key in mapping: 1"
        )
    }

    @Test func quotedAndPlainScalarsConvertAsBefore() throws {
        let doc = try parse(
            """
            plainInt: 80
            quotedInt: "80"
            taggedStr: !!str 80
            plainBool: true
            quotedBool: 'true'
            nullWord: null
            tilde: ~
            empty:
            quotedNull: "null"
            hex: 0x1F
            octal: 0o17
            yes: yes
            """
        )
        #expect(try doc.int("plainInt") == 80)
        #expect(throws: LocatedError.self) { try doc.int("quotedInt") }
        #expect(try doc.string("quotedInt") == "80")
        #expect(throws: LocatedError.self) { try doc.string("plainInt") }
        // A tag does not change how the accessors read a scalar: plain 80 is a number.
        #expect(throws: LocatedError.self) { try doc.string("taggedStr") }
        #expect(try doc.bool("plainBool") == true)
        #expect(throws: LocatedError.self) { try doc.bool("quotedBool") }
        #expect(try doc.string("quotedBool") == "true")
        #expect(doc["nullWord"] == nil && doc["tilde"] == nil && doc["empty"] == nil)
        #expect(try doc.string("quotedNull") == "null")
        // Int(_:) and Double(_:) decide, as before: hex is a (floating-point) number, neither int nor string;
        // YAML's octal form is a string.
        #expect(throws: LocatedError.self) { try doc.int("hex") }
        #expect(throws: LocatedError.self) { try doc.string("hex") }
        #expect(try doc.string("octal") == "0o17")
        #expect(try doc.string("yes") == "yes")
        #expect(try doc.required("plainInt").rendered == "80")
        #expect(try doc.required("quotedInt").rendered == "\"80\"")
    }

    @Test func aliasesShareTheirAnchorAndKeepItsLine() throws {
        let doc = try parse("base: &b\n  app: web\nuse: *b\n")
        let use = try doc.required("use")
        #expect(try use.string("app") == "web")
        // An anchored block mapping starts at its anchor, as libyaml marks it; its path is named there too
        // (the text that is wrong is the anchor's), and so are the paths below it.
        #expect(use.line == 1)
        #expect(use.path == "base")
        #expect(try use.required("app").path == "base.app")
    }

    @Test func undefinedAndSelfAliasesAreRefused() {
        #expect(parseError("a: 1\nb: *nowhere\n") == "t.yaml:2: invalid YAML: found undefined alias")
        // An anchor is defined once its collection ends, as in Yams.
        #expect(parseError("a: &x [1, *x]\n") == "t.yaml:1: invalid YAML: found undefined alias")
        // Anchors belong to their document.
        #expect(parseError("a: &x 1\n---\nb: *x\n") == "t.yaml:3: invalid YAML: found undefined alias")
    }

    @Test func nestingUpToTheLimitIsAccepted() throws {
        let depth = 256
        let text = "k: " + String(repeating: "[", count: depth - 1) + String(repeating: "]", count: depth - 1)
        _ = try parse(text)
        let deeper = "k: " + String(repeating: "[", count: depth) + String(repeating: "]", count: depth)
        #expect(parseError(deeper) == "t.yaml:1: YAML nested deeper than 256 levels is not supported")
    }

    @Test func documentsBeforeARefusedOneAreDelivered() {
        // Refused while composing, like a syntax error: the documents before it have been read.
        let text = "name: one\n---\nname: two\n---\na: &k x\n*k : 2\n---\nname: four\n"
        var names: [String] = []
        let refusal = LocatedError(
            file: "t.yaml",
            line: 6,
            field: "",
            message: "YAML aliases in mapping keys are not supported"
        )
        #expect(throws: refusal) {
            try LocatedYAML.forEachDocument(text, file: "t.yaml") {
                names.append((try? $0.string("name")) ?? nil ?? "?")
            }
        }
        #expect(names == ["one", "two"])
    }

    @Test func keyLookupFollowsTags() throws {
        // A key tagged as something other than a string is not the field of that name.
        let doc = try parse("!!int port: 1\n\"name\": web\n! tier: front\n")
        #expect(try doc.string("name") == "web")
        #expect(try doc.string("tier") == "front")
        #expect(doc["port"] == nil)
    }

    @Test func pathsQuoteKeysThatAreNotIdentifiers() throws {
        let doc = try parse("metadata: {annotations: {ipvsd.io/weight: x, plain_key-1: y, größe: z}}\n")
        let annotations = try doc.required("metadata").required("annotations")
        #expect(try annotations.required("ipvsd.io/weight").path == "metadata.annotations[ipvsd.io/weight]")
        #expect(try annotations.required("plain_key-1").path == "metadata.annotations.plain_key-1")
        #expect(try annotations.required("größe").path == "metadata.annotations.größe")
    }
}
