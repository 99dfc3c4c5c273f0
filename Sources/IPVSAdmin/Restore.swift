import IPVS

/// One command of a restore file, with the line it came from.
public struct RestoreLine: Hashable, Sendable {
    public var line: Int
    public var command: AdminCommand
}

/// The bad lines of a restore file; nothing of the file is applied when there is one.
public struct RestoreFailure: Error, Hashable, Sendable, CustomStringConvertible {
    public struct Problem: Hashable, Sendable {
        public var line: Int
        public var message: String
    }

    public var problems: [Problem]

    /// `line 3: illegal weight specified`, one line per problem, and a summary.
    public var description: String {
        let lines = problems.map { "line \($0.line): \($0.message)" }
        let count = problems.count == 1 ? "1 bad line" : "\(problems.count) bad lines"
        return (lines + ["restore: \(count); nothing was applied"]).joined(separator: "\n")
    }
}

/// Reads what `ipvsadm -S` writes (and what `ipvsadm -R` reads): one ipvsadm command per line, with or
/// without a leading `ipvsadm`; blank lines and `#` comments are skipped.
public enum RestoreParser {
    /// Splits a line into arguments as ipvsadm's `config_stream_read` does (blanks, tabs, CRs), dropping every
    /// `ipvsadm` word, a leading `ipvsctl`, and everything from a word starting with `#`.
    ///
    /// Works on bytes, as ipvsadm does: a CR-LF line ending is a blank and an end of line, never one
    /// character as Swift's `Character` view would have it.
    public static func words(of line: Substring) -> [String] {
        var words: [String] = []
        let bytes = line.utf8
        var index = bytes.startIndex
        while index < bytes.endIndex {
            let byte = bytes[index]
            if byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") || byte == UInt8(ascii: "\r") {
                index = bytes.index(after: index)
                continue
            }
            let start = index
            repeat {
                index = bytes.index(after: index)
            } while index < bytes.endIndex
                && !(bytes[index] == UInt8(ascii: " ") || bytes[index] == UInt8(ascii: "\t")
                    || bytes[index] == UInt8(ascii: "\r"))
            if byte == UInt8(ascii: "#") { break }
            let word = line[start..<index]
            if word == "ipvsadm" || (word == "ipvsctl" && words.isEmpty) { continue }
            words.append(String(word))
        }
        return words
    }

    /// Parses and validates every line.
    ///
    /// The lines `-S` writes are read by ``SavedRuleLine`` without building Strings; every other line, and
    /// every bad one, by the general ``IpvsadmParser``. `readingSavedRules: false` sends every line to the
    /// general parser; the result is the same either way (the tests and the fuzz target compare the two).
    /// A long file is parsed in parts on several threads (nothing reaches the kernel before every line is
    /// valid, so parsing cannot overlap the kernel; it can use the other cores).
    /// - Throws: ``RestoreFailure`` listing every bad line.
    public static func parse(
        _ text: String,
        parser: IpvsadmParser,
        readingSavedRules: Bool = true
    ) throws(RestoreFailure) -> [RestoreLine] {
        var utf8 = text
        let results = utf8.withUTF8 { bytes in
            let textLines = lineRanges(bytes)
            let shared = SharedBytes(bytes: bytes)
            return InParts.map(count: textLines.count, minimumPerPart: linesPerPart) { range in
                parse(text, shared, textLines[range], firstIndex: range.lowerBound, parser: parser, readingSavedRules)
            }
        }
        let lineCount = results.reduce(0) { $0 + $1.lines.count }
        var lines: [RestoreLine] = []
        lines.reserveCapacity(lineCount)
        var problems: [RestoreFailure.Problem] = []
        for part in results {
            lines += part.lines
            problems += part.problems
        }
        if !problems.isEmpty { throw RestoreFailure(problems: problems) }
        return lines
    }

    /// The byte range of each line, newlines excluded, the last one after the last newline (empty when the
    /// text ends with one). Ranges, not Substrings: 110,000 Substrings cost a retain and release each, half
    /// of what reading the saved rules takes.
    private static func lineRanges(_ bytes: UnsafeBufferPointer<UInt8>) -> [Range<Int>] {
        var lines: [Range<Int>] = []
        var start = 0
        while let end = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            lines.append(start..<end)
            start = end + 1
        }
        lines.append(start..<bytes.count)
        return lines
    }

    /// Below this many lines per thread, a thread costs more than it saves.
    static let linesPerPart = 4096

    /// `text` and `bytes` are the same characters: the direct reader reads the bytes, the general parser a
    /// Substring of the text at the same offsets (no copy).
    private static func parse(
        _ text: String,
        _ bytes: SharedBytes,
        _ textLines: ArraySlice<Range<Int>>,
        firstIndex: Int,
        parser: IpvsadmParser,
        _ readingSavedRules: Bool
    ) -> (lines: [RestoreLine], problems: [RestoreFailure.Problem]) {
        var lines: [RestoreLine] = []
        lines.reserveCapacity(textLines.count)
        var problems: [RestoreFailure.Problem] = []
        for (offset, range) in textLines.enumerated() {
            let number = firstIndex + offset + 1
            if readingSavedRules,
                let command = SavedRuleLine.command(in: UnsafeBufferPointer(rebasing: bytes.bytes[range]))
            {
                lines.append(RestoreLine(line: number, command: command))
                continue
            }
            // A newline ends a character, so these offsets are character boundaries.
            let utf8 = text.utf8
            let start = utf8.index(utf8.startIndex, offsetBy: range.lowerBound)
            let end = utf8.index(start, offsetBy: range.count)
            let arguments = words(of: text[start..<end])
            guard !arguments.isEmpty else { continue }
            do {
                let command = try parser.parse(arguments)
                if command.operation == nil {
                    problems.append(.init(line: number, message: "only commands that change IPVS can be restored"))
                } else {
                    lines.append(RestoreLine(line: number, command: command))
                }
            } catch {
                problems.append(.init(line: number, message: error.message))
            }
        }
        return (lines, problems)
    }
}

/// The bytes of a String held by `withUTF8` while `InParts` reads them on several threads: only read, and
/// only before `withUTF8` returns (`InParts.map` returns when every part has).
private struct SharedBytes: @unchecked Sendable {
    let bytes: UnsafeBufferPointer<UInt8>
}
