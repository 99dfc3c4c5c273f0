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
        let textLines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let results = InParts.map(count: textLines.count, minimumPerPart: linesPerPart) { range in
            parse(textLines[range], firstIndex: range.lowerBound, parser: parser, readingSavedRules: readingSavedRules)
        }
        var lines: [RestoreLine] = []
        lines.reserveCapacity(textLines.count)
        var problems: [RestoreFailure.Problem] = []
        for part in results {
            lines += part.lines
            problems += part.problems
        }
        if !problems.isEmpty { throw RestoreFailure(problems: problems) }
        return lines
    }

    /// Below this many lines per thread, a thread costs more than it saves.
    static let linesPerPart = 4096

    private static func parse(
        _ textLines: ArraySlice<Substring.UTF8View>,
        firstIndex: Int,
        parser: IpvsadmParser,
        readingSavedRules: Bool
    ) -> (lines: [RestoreLine], problems: [RestoreFailure.Problem]) {
        var lines: [RestoreLine] = []
        lines.reserveCapacity(textLines.count)
        var problems: [RestoreFailure.Problem] = []
        for (offset, line) in textLines.enumerated() {
            let number = firstIndex + offset + 1
            if readingSavedRules, let saved = line.withContiguousStorageIfAvailable(SavedRuleLine.command(in:)),
                let command = saved
            {
                lines.append(RestoreLine(line: number, command: command))
                continue
            }
            let arguments = words(of: Substring(line))
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
