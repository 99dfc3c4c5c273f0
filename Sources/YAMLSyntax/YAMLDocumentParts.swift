/// Splits a long multi-document YAML text into parts at document markers, so the parts can be parsed on
/// several threads and give what one pass over the whole text gives.
///
/// A part boundary is a line that is exactly `---`, or `---` followed by a space, tab or line break, at the
/// start of a line (after a line feed): libyaml reads each such line as a document start, or fails on it
/// (inside a flow collection or a quoted scalar), wherever it appears, so each part holds whole documents
/// and a text that fails whole fails in one of its parts. Were there a place where libyaml read such a line
/// as text, it could only be a scalar at a document's root (YAML allows a root block scalar's text at column
/// 0), which no Kubernetes object is (its root is a mapping), so that document would fail either way; the
/// manifests fuzz target checks that parts and one pass agree. A text with a directive (a line starting with
/// `%`) is not split: a directive belongs to the document after it. A part's first line is counted as libyaml
/// counts lines (CR, LF, CR LF, NEL, LS and PS each end one), so errors in it name the whole text's lines.
public enum YAMLDocumentParts {
    /// One part: its text and the 1-based line of the whole text it starts on.
    public struct Part: Sendable {
        public var text: Substring
        public var firstLine: Int
    }

    /// Parts of at least `minimumBytes` (the last may be shorter), at most `maximumParts` of them; the whole
    /// text as one part when it is shorter than twice `minimumBytes`, has a directive, or has no boundary.
    public static func split(_ text: String, minimumBytes: Int, maximumParts: Int) -> [Part] {
        let whole = [Part(text: text[...], firstLine: 1)]
        let count = min(maximumParts, text.utf8.count / max(1, minimumBytes))
        guard count > 1 else { return whole }
        var text = text
        // Byte offsets where parts start, with their lines.
        let starts: [(offset: Int, line: Int)]? = text.withUTF8 { bytes in
            if hasDirective(bytes) { return nil }
            let target = bytes.count / count
            var starts = [(offset: 0, line: 1)]
            var line = 1
            for offset in 0..<bytes.count {
                line += lineBreaks(bytes, at: offset)
                guard bytes[offset] == UInt8(ascii: "\n"), starts.count < count,
                    offset + 1 - starts[starts.count - 1].offset >= target,
                    isDocumentStart(bytes, at: offset + 1)
                else { continue }
                starts.append((offset + 1, line))
            }
            return starts
        }
        guard let starts, starts.count > 1 else { return whole }
        let utf8 = text.utf8
        let indices = starts.map { utf8.index(utf8.startIndex, offsetBy: $0.offset) } + [utf8.endIndex]
        return starts.indices.map { Part(text: text[indices[$0]..<indices[$0 + 1]], firstLine: starts[$0].line) }
    }

    /// 1 when the byte at `offset` ends a line as libyaml counts lines (its marks give errors their lines):
    /// a line feed, a carriage return not followed by a line feed (CR LF is one break), or the last byte of
    /// a UTF-8 NEL (U+0085), line separator (U+2028) or paragraph separator (U+2029); else 0.
    private static func lineBreaks(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> Int {
        switch bytes[offset] {
        case UInt8(ascii: "\n"): return 1
        case UInt8(ascii: "\r"): return offset + 1 < bytes.count && bytes[offset + 1] == UInt8(ascii: "\n") ? 0 : 1
        case 0x85: return offset >= 1 && bytes[offset - 1] == 0xC2 ? 1 : 0
        case 0xA8, 0xA9: return offset >= 2 && bytes[offset - 2] == 0xE2 && bytes[offset - 1] == 0x80 ? 1 : 0
        default: return 0
        }
    }

    private static func isDocumentStart(_ bytes: UnsafeBufferPointer<UInt8>, at offset: Int) -> Bool {
        guard offset + 3 <= bytes.count,
            bytes[offset] == UInt8(ascii: "-"), bytes[offset + 1] == UInt8(ascii: "-"),
            bytes[offset + 2] == UInt8(ascii: "-")
        else { return false }
        guard offset + 3 < bytes.count else { return true }
        switch bytes[offset + 3] {
        case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"), UInt8(ascii: "\n"): return true
        default: return false
        }
    }

    private static func hasDirective(_ bytes: UnsafeBufferPointer<UInt8>) -> Bool {
        var atLineStart = true
        for byte in bytes {
            if atLineStart && byte == UInt8(ascii: "%") { return true }
            atLineStart = byte == UInt8(ascii: "\n")
        }
        return false
    }
}
