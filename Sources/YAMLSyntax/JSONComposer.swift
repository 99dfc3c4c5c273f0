/// Composes a `YAMLTree` from one JSON text (RFC 8259), in one pass over its bytes, for the Kubernetes API's
/// payloads. JSON is YAML, so libyaml could read them too, but its event scan alone costs about a third of
/// decoding an API page (ipvs-bench native, "decode an API list page"); JSON's grammar needs no scanner of
/// that generality.
///
/// The tree is the one `YAMLComposer` makes of the same text: strings are double-quoted scalars (tagged
/// `!!str`), numbers, `true`, `false` and `null` plain scalars with their text, objects and arrays flow
/// collections; so `LocatedYAML` and every decoder above it read API objects and manifests alike. Like
/// `YAMLComposer` it is iterative (no depth reaches the stack), refuses nesting deeper than
/// `YAMLComposer.maxDepth`, and reports duplicate keys in the same words.
///
/// It is strict where libyaml is lenient: no comments, no trailing commas, no unquoted or single-quoted
/// strings, no control characters inside strings, no lone UTF-16 surrogates, nothing after the value.
struct JSONComposer {
    private let bytes: UnsafeBufferPointer<UInt8>
    private let file: String
    private var position = 0
    private var line: Int32 = 1
    /// Where the current line starts, for columns.
    private var lineStart = 0
    private let tree = YAMLTree()

    private struct Frame {
        var node: Int32
        var isObject: Bool
        /// Where its members start in `pending`.
        var firstPending: Int

        var kind: String { isObject ? "object" : "array" }
    }

    /// libyaml's style numbers, which `YAMLTree` keeps.
    private static let plainStyle: UInt8 = 1
    private static let doubleQuotedStyle: UInt8 = 3
    private static let flowStyle: UInt8 = 2

    /// Composes `bytes`, which must be valid UTF-8 (a `String`'s).
    static func compose(_ bytes: UnsafeBufferPointer<UInt8>, file: String) throws(LocatedError) -> YAMLTree {
        var composer = JSONComposer(bytes: bytes, file: file)
        return try composer.document()
    }

    private init(bytes: UnsafeBufferPointer<UInt8>, file: String) {
        self.bytes = bytes
        self.file = file
        // A node per 16 bytes is about what API objects hold; the arrays grow past it if needed.
        tree.nodes.reserveCapacity(bytes.count / 16)
        tree.members.reserveCapacity(bytes.count / 16)
        tree.text.reserveCapacity(bytes.count / 2)
    }

    private mutating func document() throws(LocatedError) -> YAMLTree {
        var stack: [Frame] = []
        var pending: [Int32] = []
        var expectingValue = true
        while true {
            skipWhitespace()
            if expectingValue {
                guard position < bytes.count else { throw error("unexpected end of text, expected a value") }
                switch bytes[position] {
                case UInt8(ascii: "{"), UInt8(ascii: "["):
                    guard stack.count < YAMLComposer.maxDepth else {
                        throw error("JSON nested deeper than \(YAMLComposer.maxDepth) levels is not supported")
                    }
                    let isObject = bytes[position] == UInt8(ascii: "{")
                    let node = tree.appendCollection(
                        isObject ? .mapping : .sequence,
                        line: line,
                        column: column,
                        tag: YAMLTree.implicitTag,
                        style: Self.flowStyle
                    )
                    position += 1
                    stack.append(Frame(node: node, isObject: isObject, firstPending: pending.count))
                    skipWhitespace()
                    if position < bytes.count, bytes[position] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                        position += 1
                        close(&stack, &pending)
                        expectingValue = false
                    } else if isObject {
                        pending.append(try key())
                    }
                case UInt8(ascii: "\""):
                    pending.append(try string())
                    expectingValue = false
                default:
                    pending.append(try literal())
                    expectingValue = false
                }
            } else {
                guard let top = stack.last else { break }
                guard position < bytes.count else { throw error("unexpected end of text inside an \(top.kind)") }
                let closing = top.isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                switch bytes[position] {
                case UInt8(ascii: ","):
                    position += 1
                    if top.isObject { pending.append(try key()) }
                    expectingValue = true
                case closing:
                    position += 1
                    try closeChecked(&stack, &pending)
                default:
                    throw error("expected ',' or '\(Character(Unicode.Scalar(closing)))' in an \(top.kind)")
                }
            }
        }
        guard position == bytes.count else { throw error("unexpected text after the JSON value") }
        tree.root = pending[0]
        return tree
    }

    /// Ends the innermost collection: its members move from `pending` into the tree, and it becomes a
    /// pending member of its parent.
    private func close(_ stack: inout [Frame], _ pending: inout [Int32]) {
        let frame = stack.removeLast()
        tree.close(frame.node, members: pending[frame.firstPending...])
        pending.removeSubrange(frame.firstPending...)
        pending.append(frame.node)
    }

    private func closeChecked(_ stack: inout [Frame], _ pending: inout [Int32]) throws(LocatedError) {
        let node = stack[stack.count - 1].node
        let isObject = stack[stack.count - 1].isObject
        close(&stack, &pending)
        if isObject, let duplicate = YAMLKeys.duplicates(tree, mapping: node, file: file) { throw duplicate }
    }

    /// An object member's key and the colon after it.
    private mutating func key() throws(LocatedError) -> Int32 {
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\"") else {
            throw error("expected a string key in an object")
        }
        let key = try string()
        skipWhitespace()
        guard position < bytes.count, bytes[position] == UInt8(ascii: ":") else {
            throw error("expected ':' after an object key")
        }
        position += 1
        return key
    }

    /// A string at `position` (its opening quote) as a double-quoted scalar.
    private mutating func string() throws(LocatedError) -> Int32 {
        let startColumn = column
        position += 1
        let start = position
        // Most strings have no escape: one scan, one copy.
        while position < bytes.count {
            let byte = bytes[position]
            if byte == UInt8(ascii: "\"") {
                let text = UnsafeBufferPointer(rebasing: bytes[start..<position])
                position += 1
                return scalar(text, column: startColumn, style: Self.doubleQuotedStyle)
            }
            if byte == UInt8(ascii: "\\") || byte < 0x20 { break }
            position += 1
        }
        var decoded = Array(bytes[start..<position])
        while position < bytes.count {
            let byte = bytes[position]
            switch byte {
            case UInt8(ascii: "\""):
                position += 1
                return decoded.withUnsafeBufferPointer {
                    scalar($0, column: startColumn, style: Self.doubleQuotedStyle)
                }
            case UInt8(ascii: "\\"):
                try escape(into: &decoded)
            case ..<0x20:
                throw error("control character U+\(hex(byte)) inside a string (JSON requires it escaped)")
            default:
                decoded.append(byte)
                position += 1
            }
        }
        throw error("unterminated string")
    }

    /// One escape sequence at `position` (its backslash), appended as UTF-8.
    private mutating func escape(into decoded: inout [UInt8]) throws(LocatedError) {
        guard position + 1 < bytes.count else { throw error("unterminated string") }
        let letter = bytes[position + 1]
        position += 2
        switch letter {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): decoded.append(letter)
        case UInt8(ascii: "b"): decoded.append(0x08)
        case UInt8(ascii: "f"): decoded.append(0x0C)
        case UInt8(ascii: "n"): decoded.append(0x0A)
        case UInt8(ascii: "r"): decoded.append(0x0D)
        case UInt8(ascii: "t"): decoded.append(0x09)
        case UInt8(ascii: "u"):
            var value = try hexQuad()
            if (0xD800..<0xDC00).contains(value) {
                // A high surrogate must be followed by a low one: together they are one scalar.
                guard position + 1 < bytes.count, bytes[position] == UInt8(ascii: "\\"),
                    bytes[position + 1] == UInt8(ascii: "u")
                else { throw error("unpaired UTF-16 surrogate in a \\u escape") }
                position += 2
                let low = try hexQuad()
                guard (0xDC00..<0xE000).contains(low) else { throw error("unpaired UTF-16 surrogate in a \\u escape") }
                value = 0x10000 + ((value - 0xD800) << 10) + (low - 0xDC00)
            } else if (0xDC00..<0xE000).contains(value) {
                throw error("unpaired UTF-16 surrogate in a \\u escape")
            }
            decoded.append(contentsOf: Unicode.UTF8.encode(Unicode.Scalar(value)!)!)
        default:
            position -= 2
            throw error("invalid escape '\\\(Character(Unicode.Scalar(letter)))' in a string")
        }
    }

    private mutating func hexQuad() throws(LocatedError) -> UInt32 {
        guard position + 4 <= bytes.count else { throw error("a \\u escape needs four hexadecimal digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[position]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw error("a \\u escape needs four hexadecimal digits")
            }
            value = value << 4 | UInt32(digit)
            position += 1
        }
        return value
    }

    /// `true`, `false`, `null` or a number, as a plain scalar with its text.
    private mutating func literal() throws(LocatedError) -> Int32 {
        let startColumn = column
        let start = position
        for word: StaticString in ["true", "false", "null"] where matches(word) {
            position += word.utf8CodeUnitCount
            return scalar(
                UnsafeBufferPointer(rebasing: bytes[start..<position]),
                column: startColumn,
                style: Self.plainStyle
            )
        }
        // -? (0 | [1-9][0-9]*) (.[0-9]+)? ([eE][+-]?[0-9]+)?
        if peek(UInt8(ascii: "-")) { position += 1 }
        if peek(UInt8(ascii: "0")) {
            position += 1
        } else if try digits() == 0 {
            throw error(start == position ? "expected a value" : "expected a digit in a number")
        }
        if peek(UInt8(ascii: ".")) {
            position += 1
            guard try digits() > 0 else { throw error("expected a digit after '.' in a number") }
        }
        if peek(UInt8(ascii: "e")) || peek(UInt8(ascii: "E")) {
            position += 1
            if peek(UInt8(ascii: "+")) || peek(UInt8(ascii: "-")) { position += 1 }
            guard try digits() > 0 else { throw error("expected a digit in a number's exponent") }
        }
        return scalar(
            UnsafeBufferPointer(rebasing: bytes[start..<position]),
            column: startColumn,
            style: Self.plainStyle
        )
    }

    private mutating func digits() throws(LocatedError) -> Int {
        let start = position
        while position < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[position]) {
            position += 1
        }
        return position - start
    }

    private func peek(_ byte: UInt8) -> Bool { position < bytes.count && bytes[position] == byte }

    private func matches(_ word: StaticString) -> Bool {
        guard position + word.utf8CodeUnitCount <= bytes.count else { return false }
        for offset in 0..<word.utf8CodeUnitCount where bytes[position + offset] != word.utf8Start[offset] {
            return false
        }
        return true
    }

    private func scalar(_ text: UnsafeBufferPointer<UInt8>, column: Int32, style: UInt8) -> Int32 {
        tree.appendScalar(
            bytes: text,
            line: line,
            column: column,
            tag: style == Self.doubleQuotedStyle ? YAMLTree.strTag : YAMLTree.implicitTag,
            style: style
        )
    }

    private mutating func skipWhitespace() {
        while position < bytes.count {
            switch bytes[position] {
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"): position += 1
            case UInt8(ascii: "\n"):
                position += 1
                line += 1
                lineStart = position
            default: return
            }
        }
    }

    /// 1-based, in bytes.
    private var column: Int32 { Int32(clamping: position - lineStart + 1) }

    private func error(_ message: String) -> LocatedError {
        LocatedError(file: file, line: Int(line), field: "", message: "invalid JSON: \(message) (column \(column))")
    }

    private func hex(_ byte: UInt8) -> String {
        let digits = String(byte, radix: 16, uppercase: true)
        return String(repeating: "0", count: 4 - digits.count) + digits
    }
}
