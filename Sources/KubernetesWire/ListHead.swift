import NIOCore
import YAMLSyntax

/// The continue token of a list page, read from the head of its JSON without decoding the page, so the next
/// page can be asked for while this one is decoded.
///
/// API servers write a list as `{"kind":…,"apiVersion":…,"metadata":{…},"items":[…]}` (Go's encoder follows
/// the struct's field order: TypeMeta inline, ListMeta, Items), so the token sits in the first few hundred
/// bytes. The scan walks the top-level keys, skipping their values, and stops at `metadata` (whose value it
/// decodes with `LocatedYAML.parseJSON`), at `items`, or after ``limit`` bytes. It is a hint only: the page's
/// full decode reads the token again, and a page fetched with a token the decode does not confirm is
/// dropped.
public enum ListHead {
    /// The most bytes looked at; metadata past them is not looked for.
    public static let limit = 64 << 10

    /// The page's non-empty continue token; nil when it has none, or when its metadata is not a plain JSON
    /// object found ahead of `items` within ``limit`` bytes (the full decode then decides).
    public static func continueToken(_ buffer: ByteBuffer) -> String? {
        let metadata: String? = buffer.withUnsafeReadableBytes { raw in
            var scanner = Scanner(bytes: UnsafeRawBufferPointer(rebasing: raw.prefix(limit)))
            return scanner.metadata().map { String(decoding: raw[$0], as: UTF8.self) }
        }
        guard let metadata, let node = try? LocatedYAML.parseJSON(metadata, file: "list metadata"),
            let token = try? node.string("continue"), !token.isEmpty
        else { return nil }
        return token
    }

    /// A forward-only walk over the top-level object's keys. Every method returns nil (or false) on
    /// anything it does not expect, including the end of the bytes.
    struct Scanner {
        let bytes: UnsafeRawBufferPointer
        var position = 0

        /// The byte range of the value of the top-level key `metadata`, if it comes before `items`.
        mutating func metadata() -> Range<Int>? {
            guard take(UInt8(ascii: "{")) else { return nil }
            while true {
                guard let key = string() else { return nil }
                guard take(UInt8(ascii: ":")) else { return nil }
                skipSpace()
                let start = position
                switch key {
                case "metadata":
                    guard peek() == UInt8(ascii: "{"), skipValue() else { return nil }
                    return start..<position
                case "items": return nil
                default: guard skipValue(), take(UInt8(ascii: ",")) else { return nil }
                }
            }
        }

        /// The raw text of a string (escapes left as written: a key spelled with escapes matches nothing).
        mutating func string() -> String? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = position
            guard skipStringBody() else { return nil }
            return String(decoding: bytes[start..<(position - 1)], as: UTF8.self)
        }

        /// Skips one value: a string, an object or array (counting brackets outside strings), or a literal.
        mutating func skipValue() -> Bool {
            skipSpace()
            guard let first = peek() else { return false }
            switch first {
            case UInt8(ascii: "\""):
                position += 1
                return skipStringBody()
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                var depth = 0
                while let byte = peek() {
                    position += 1
                    switch byte {
                    case UInt8(ascii: "\""): guard skipStringBody() else { return false }
                    case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                    case UInt8(ascii: "}"), UInt8(ascii: "]"):
                        depth -= 1
                        if depth == 0 { return true }
                    default: break
                    }
                }
                return false
            default:
                let start = position
                while let byte = peek(), !Self.endsLiteral(byte) { position += 1 }
                return position > start
            }
        }

        /// Moves past a string's closing quote; the opening one is already read.
        private mutating func skipStringBody() -> Bool {
            while let byte = peek() {
                position += 1
                if byte == UInt8(ascii: "\\") {
                    position += 1
                } else if byte == UInt8(ascii: "\"") {
                    return position <= bytes.count
                }
            }
            return false
        }

        /// Skips white space, then reads `byte` if it is next.
        private mutating func take(_ byte: UInt8) -> Bool {
            skipSpace()
            guard peek() == byte else { return false }
            position += 1
            return true
        }

        private mutating func skipSpace() {
            while let byte = peek(), byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { position += 1 }
        }

        private func peek() -> UInt8? { position < bytes.count ? bytes[position] : nil }

        private static func endsLiteral(_ byte: UInt8) -> Bool {
            switch byte {
            case UInt8(ascii: ","), UInt8(ascii: "}"), UInt8(ascii: "]"), 0x20, 0x0A, 0x0D, 0x09: true
            default: false
            }
        }
    }
}
