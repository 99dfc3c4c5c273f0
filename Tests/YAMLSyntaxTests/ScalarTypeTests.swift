import TestSupport
import Testing
import YAMLSyntax

/// `asString()` refuses plain numbers, booleans and null as the Kubernetes API does. It settles most texts
/// from their bytes before asking `Int(_:)` and `Double(_:)`; these tests hold it to what those parsers
/// and the six boolean spellings say, the rule it had when it asked them for every text.
@Suite struct ScalarTypeTests {
    /// The earlier rule, word for word: null, or `Int`, a boolean spelling, or `Double` for texts whose first
    /// byte may start a number.
    private static func refusedByTheParsers(_ text: String) -> Bool {
        if Int(text) != nil { return true }
        if ["true", "false", "True", "False", "TRUE", "FALSE"].contains(text) { return true }
        guard let first = text.utf8.first else { return false }
        let mayBeNumber: Bool
        switch first | 0x20 {
        case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "+") | 0x20, UInt8(ascii: "-") | 0x20,
            UInt8(ascii: ".") | 0x20, UInt8(ascii: "i"), UInt8(ascii: "n"):
            mayBeNumber = true
        default:
            mayBeNumber = first <= 0x20
        }
        return mayBeNumber && Double(text) != nil
    }

    /// Whether `asString()` refused the value of `v: TEXT`, and whether the parsers would; nil when the text
    /// is not one scalar there.
    private func outcome(_ text: String) -> (refused: Bool, expected: Bool)? {
        guard let document = try? LocatedYAML.parse("v: \(text)\n", file: "t.yaml"), let node = document["v"],
            let scalar = node.scalarText
        else { return nil }
        let refused = (try? node.asString()) == nil
        return (refused, node.isPlainScalar && (node.isNull || Self.refusedByTheParsers(scalar)))
    }

    static let edges = [
        "80", "-1", "+7", "0x1F", "0o17", "1.5e3", "1e", ".5", "5.", ".", "..", "1.2.3", "10.96.0.1", "1_000",
        "inf", "-inf", "+Infinity", "INF", "infra", "in", "i", "nan", "NaN", "-nan", "nan(1)", "nginx", "node-0",
        "n", "null", "Null", "NULL", "~", "true", "True", "TRUE", "tRUE", "false", "yes", "on", "TCP", "IPv4",
        "s12", "web", "'80'", "\"true\"", "9223372036854775808", "1e400", "-0", "0x", "0x1p3", "0x1.8p1",
        "infinity", "infinityy", "snan", "-snan", "+", "-", "e5",
    ]

    @Test func edgeCasesAgreeWithTheParsers() {
        var skipped: [String] = []
        for text in Self.edges {
            guard let (refused, expected) = outcome(text) else {
                skipped.append(text)
                continue
            }
            #expect(refused == expected, "v: \(text)")
        }
        // Only the null spellings (a null value reads as absent) and `-` (a list) are not one string scalar.
        #expect(Set(skipped) == ["null", "Null", "NULL", "~", "-"])
    }

    /// 20,000 seeded texts from the characters numbers, booleans and names are made of.
    @Test func randomTextsAgreeWithTheParsers() {
        var generator = SplitMix64(seed: 0x5CA1A2)
        let alphabet = Array("0123456789+-.eExXpPinfatyINFATYlsrSuU_")
        var refusals = 0
        var acceptances = 0
        for _ in 0..<20_000 {
            let length = Int.random(in: 1...7, using: &generator)
            let text = String((0..<length).map { _ in alphabet.randomElement(using: &generator)! })
            guard let (refused, expected) = outcome(text) else { continue }
            #expect(refused == expected, "v: \(text)")
            if refused { refusals += 1 } else { acceptances += 1 }
        }
        // Both answers are exercised, not only the strings that are obviously names.
        #expect(refusals > 1_000 && acceptances > 1_000, "\(refusals) refused, \(acceptances) accepted")
    }
}
