import Testing
import YAMLSyntax
import Yams

/// `JSONComposer` (`LocatedYAML.parseJSON`), which reads the API's payloads: for any JSON text, the same nodes,
/// styles and lines as libyaml's reading of it (`LocatedYAML.parse`), and strict JSON's errors.
@Suite struct JSONComposerTests {
    private func json(_ text: String) throws -> LocatedYAML { try LocatedYAML.parseJSON(text, file: "t.json") }

    private func jsonError(_ text: String) -> String? {
        do throws(LocatedError) {
            _ = try LocatedYAML.parseJSON(text, file: "t.json")
            return nil
        } catch {
            return error.description
        }
    }

    /// A node's whole shape through the public accessors: kind, text, plainness, style and line of each node.
    private func dump(_ node: LocatedYAML) throws -> String {
        let style: String
        switch node.node {
        case .scalar(let scalar): style = "\(scalar.style)"
        case .mapping(let mapping): style = "\(mapping.style)"
        case .sequence(let sequence): style = "\(sequence.style)"
        case .alias: style = "alias"
        }
        if let text = node.scalarText {
            return "\(node.line)|\(style)|\(node.isPlainScalar ? "plain" : "quoted"):\(text.debugDescription)"
        }
        if case .sequence = node.node {
            return "\(node.line)|\(style)[" + (try node.asList().map(dump).joined(separator: ",")) + "]"
        }
        let entries = try node.asMapping().map { "\($0.key.debugDescription):\(try dump($0.value))" }
        return "\(node.line)|\(style){" + entries.joined(separator: ",") + "}"
    }

    static let samples = [
        #"{"kind": "List", "items": [{"a": 1}, {"b": "2"}], "empty": {}, "none": null, "list": []}"#,
        #"{"n": [0, -0, 12, -3.25, 1e3, 1E-2, 6.02e+23, true, false, null]}"#,
        #"{"s": "tab\tnew\nquote\" back\\ slash\/ \u00e9 \u0000 \b\f\r"}"#,
        "{\n  \"multi\": [\n    1,\n    {\"x\": \"y\"}\n  ],\n  \"z\": \"é\"\n}\n",
        #"{"80": "port as a string key", "true": "so is this"}"#,
        #"[1, [2, [3, [4]]], "top-level array"]"#,
        #""just a string""#,
        "  42  ",
    ]

    @Test(arguments: samples) func nodesEqualLibyamlsReading(text: String) throws {
        let fromJSON = try json(text)
        let fromYAML = try LocatedYAML.parse(text, file: "t.yaml")
        #expect(fromJSON.node == fromYAML.node)
        #expect(try dump(fromJSON) == (try dump(fromYAML)))
    }

    /// Random JSON documents (objects, arrays, escapes, numbers, line breaks) read both ways.
    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8]) func randomDocumentsEqualLibyamlsReading(seed: UInt64) throws {
        var generator = RandomJSON(seed: seed)
        for _ in 0..<25 {
            let text = generator.document()
            let fromJSON = try json(text)
            let fromYAML = try LocatedYAML.parse(text, file: "t.yaml")
            #expect(fromJSON.node == fromYAML.node, "\(text)")
            #expect(try dump(fromJSON) == (try dump(fromYAML)), "\(text)")
        }
    }

    @Test func accessorsReadAPIObjects() throws {
        let doc = try json(
            #"{"metadata": {"name": "web", "resourceVersion": "12"}, "spec": {"ports": [{"port": 80}]}}"#
        )
        #expect(try doc.required("metadata").string("name") == "web")
        #expect(try doc.required("spec").required("ports").asList().first?.int("port") == 80)
        // A quoted number is a string, as in YAML.
        #expect(throws: LocatedError.self) { try json(#"{"port": "80"}"#).int("port") }
    }

    /// libyaml refuses surrogate escapes even in pairs; JSON spells characters beyond the BMP with them.
    @Test func surrogatePairsAreOneCharacter() throws {
        #expect(try json(#"{"s": "a\ud83d\ude00b"}"#).string("s") == "a\u{1F600}b")
    }

    @Test func duplicateKeysAreRefusedAsInYAML() {
        #expect(jsonError(#"{"x": 0, "a": 1, "b": 2, "a": 3}"#) == "t.json:1: duplicate key in mapping: a")
        #expect(jsonError("{\"m\": {\n\"k\": 1, \"k\": 2}}") == "t.json:2: duplicate key in mapping: k")
    }

    @Test(arguments: [
        ("", "t.json:1: invalid JSON: unexpected end of text, expected a value (column 1)"),
        ("{\"a\": 1,}", "t.json:1: invalid JSON: expected a string key in an object (column 9)"),
        ("[1, 2,]", "t.json:1: invalid JSON: expected a value (column 7)"),
        ("{\"a\" 1}", "t.json:1: invalid JSON: expected ':' after an object key (column 6)"),
        ("{\"a\": 1 \"b\": 2}", "t.json:1: invalid JSON: expected ',' or '}' in an object (column 9)"),
        ("[1 2]", "t.json:1: invalid JSON: expected ',' or ']' in an array (column 4)"),
        ("{\"a\": \"open", "t.json:1: invalid JSON: unterminated string (column 12)"),
        ("\"bad \\x escape\"", "t.json:1: invalid JSON: invalid escape '\\x' in a string (column 6)"),
        (
            "\"raw\ttab\"",
            "t.json:1: invalid JSON: control character U+0009 inside a string (JSON requires it escaped) (column 5)"
        ),
        ("\"\\ud83d alone\"", "t.json:1: invalid JSON: unpaired UTF-16 surrogate in a \\u escape (column 8)"),
        ("\"\\ude00\"", "t.json:1: invalid JSON: unpaired UTF-16 surrogate in a \\u escape (column 8)"),
        ("\"\\u12G4\"", "t.json:1: invalid JSON: a \\u escape needs four hexadecimal digits (column 6)"),
        ("01", "t.json:1: invalid JSON: unexpected text after the JSON value (column 2)"),
        ("-", "t.json:1: invalid JSON: expected a digit in a number (column 2)"),
        ("1.", "t.json:1: invalid JSON: expected a digit after '.' in a number (column 3)"),
        ("1e+", "t.json:1: invalid JSON: expected a digit in a number's exponent (column 4)"),
        ("{'a': 1}", "t.json:1: invalid JSON: expected a string key in an object (column 2)"),
        ("{a: 1}", "t.json:1: invalid JSON: expected a string key in an object (column 2)"),
        ("[tru]", "t.json:1: invalid JSON: expected a value (column 2)"),
        ("{} // comment", "t.json:1: invalid JSON: unexpected text after the JSON value (column 4)"),
        ("{}\n{}", "t.json:2: invalid JSON: unexpected text after the JSON value (column 1)"),
        ("[\n1,\n", "t.json:3: invalid JSON: unexpected end of text, expected a value (column 1)"),
        ("[\n1\n", "t.json:3: invalid JSON: unexpected end of text inside an array (column 1)"),
    ])
    func malformedTextsNameWhatAndWhere(text: String, message: String) {
        #expect(jsonError(text) == message)
    }

    @Test func nestingIsBoundedWithoutRecursion() {
        let limit = 256
        #expect(jsonError(String(repeating: "[", count: limit) + String(repeating: "]", count: limit)) == nil)
        let deep = String(repeating: "[", count: limit + 1) + String(repeating: "]", count: limit + 1)
        #expect(
            jsonError(deep)
                == "t.json:1: invalid JSON: JSON nested deeper than 256 levels is not supported (column 257)"
        )
        // A million opening brackets fail at the limit, without walking or recursing further.
        #expect(jsonError(String(repeating: "[", count: 1_000_000))?.contains("nested deeper") == true)
    }
}

/// Seeded random JSON texts: nested objects and arrays, strings with every escape, numbers of every shape.
private struct RandomJSON {
    private var state: UInt64

    init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 | 1 }

    private mutating func next(_ bound: Int) -> Int {
        // xorshift64*
        state ^= state >> 12
        state ^= state << 25
        state ^= state >> 27
        return Int((state &* 0x2545_F491_4F6C_DD1D) >> 33) % bound
    }

    /// An object or an array, as API payloads are (YAML reads a top-level null as no document at all).
    mutating func document() -> String { value(depth: 0, kind: next(2)) }

    private mutating func space() -> String {
        switch next(6) {
        case 0: return "\n  "
        case 1: return " "
        default: return ""
        }
    }

    private mutating func value(depth: Int, kind: Int? = nil) -> String {
        switch kind ?? (depth < 5 ? next(8) : 2 + next(6)) {
        case 0:
            var seen: Set<String> = []
            let members = (0..<next(5)).compactMap { _ -> String? in
                let key = string()
                guard seen.insert(key).inserted else { return nil }
                // YAML wants an implicit key on one line: no break before its colon.
                return space() + key + (next(2) == 0 ? " " : "") + ":" + space() + value(depth: depth + 1)
            }
            return "{" + members.joined(separator: ",") + space() + "}"
        case 1:
            return "[" + (0..<next(5)).map { _ in space() + value(depth: depth + 1) }.joined(separator: ",") + "]"
        case 2, 3: return string()
        case 4: return ["true", "false", "null"][next(3)]
        default: return number()
        }
    }

    private mutating func number() -> String {
        var text = next(3) == 0 ? "-" : ""
        text += next(4) == 0 ? "0" : "\(1 + next(9))" + String(repeating: "7", count: next(4))
        if next(3) == 0 { text += "." + "\(next(1000))" }
        if next(4) == 0 { text += ["e", "E"][next(2)] + ["", "+", "-"][next(3)] + "\(next(40))" }
        return text
    }

    private mutating func string() -> String {
        let pieces = [
            "web", "a b", "\\\"", "\\\\", "\\/", "\\n", "\\t", "\\r", "\\b", "\\f", "\\u0041", "\\u00e9",
            "é", "日本", "80", "true", "null", "-1", "x:y", "#", "&a", "*a", "!t", "- z",
        ]
        return "\"" + (0..<next(4)).map { _ in pieces[next(pieces.count)] }.joined() + "\""
    }
}
