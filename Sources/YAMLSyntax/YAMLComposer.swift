// libyaml, which the Yams package builds as its CYaml module. This is the only file that imports it.
import CYaml

/// Composes `YAMLTree`s straight from libyaml's event stream, one document at a time, in one pass that also
/// refuses, with a located error, the inputs that would cost far more than their size:
///
/// - an alias inside a mapping key (`? *a`, `*a : x`, `[*a] : x`): comparing keys for duplicates would
///   walk the alias' whole expansion (nine nested nine-element lists: 9^9 nodes from 351 bytes);
/// - nesting deeper than `maxDepth`.
///
/// It is iterative, so no depth can overflow the stack. An alias becomes its anchor's node index (anchors
/// are scoped to their document, as YAML specifies); `YAMLBudget` bounds the walking of the graph.
///
/// Duplicate keys, syntax errors and undefined aliases are reported as Yams reported them (same words,
/// same line), so messages did not change when this replaced Yams' composer.
struct YAMLComposer: ~Copyable {
    /// The deepest nesting of collections accepted; Kubernetes objects need about 10.
    static let maxDepth = 256

    private let parser: UnsafeMutablePointer<yaml_parser_t>
    private let file: String
    /// Lines before the buffer's first, in the text it was cut from (``YAMLDocumentParts``).
    private let linesBefore: Int
    private var event = yaml_event_t()
    private var finished = false

    private struct Frame {
        var node: Int32
        var isMapping: Bool
        /// Whether this collection is a mapping key or lies inside one.
        var inKey: Bool
        /// Where its members start in `pending`.
        var firstPending: Int
        var anchor: String?
    }

    /// Reads `buffer`, which must outlive the composer; its first line is line `firstLine` of the file.
    init(_ buffer: UnsafeBufferPointer<UInt8>, file: String, firstLine: Int = 1) {
        self.file = file
        self.linesBefore = max(0, firstLine - 1)
        parser = .allocate(capacity: 1)
        // Fails only when out of memory, which `next` then reports.
        _ = yaml_parser_initialize(parser)
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
    }

    deinit {
        yaml_parser_delete(parser)
        parser.deallocate()
    }

    /// The next document's tree, nil after the last one.
    mutating func next() throws(LocatedError) -> YAMLTree? {
        while !finished {
            try read()
            defer { yaml_event_delete(&event) }
            switch event.type {
            case YAML_STREAM_END_EVENT: finished = true
            case YAML_DOCUMENT_START_EVENT: return try document()
            default: break
            }
        }
        return nil
    }

    private mutating func read() throws(LocatedError) {
        guard yaml_parser_parse(parser, &event) == 1 else { throw parserError() }
    }

    private mutating func document() throws(LocatedError) -> YAMLTree {
        let tree = YAMLTree()
        var stack: [Frame] = []
        var pending: [Int32] = []
        var anchors: [String: Int32] = [:]
        while true {
            yaml_event_delete(&event)
            try read()
            let line = Int32(clamping: event.start_mark.line + 1 + linesBefore)
            let column = Int32(clamping: event.start_mark.column + 1)
            let type = event.type
            switch type {
            case YAML_DOCUMENT_END_EVENT:
                tree.root =
                    pending.first
                    ?? tree.appendScalar("", line: Int32(clamping: linesBefore + 1), column: 1, tag: 0, style: 1)
                return tree
            case YAML_ALIAS_EVENT, YAML_SCALAR_EVENT, YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                var inKey = false
                if let parent = stack.last {
                    inKey = parent.inKey || (parent.isMapping && (pending.count - parent.firstPending) % 2 == 0)
                }
                switch type {
                case YAML_ALIAS_EVENT:
                    guard !inKey else { throw error(line, "YAML aliases in mapping keys are not supported") }
                    guard let target = anchors[Self.text(event.data.alias.anchor) ?? ""] else {
                        throw error(line, "invalid YAML: found undefined alias")
                    }
                    pending.append(target)
                case YAML_SCALAR_EVENT:
                    let scalar = event.data.scalar
                    // libyaml checked the input's encoding: the value is UTF-8, kept as bytes until read.
                    let value = UnsafeBufferPointer(start: scalar.value, count: scalar.length)
                    // As Yams: a quoted scalar without a tag is a string, and `!` means the default (string).
                    var tag = YAMLTree.strTag
                    if scalar.quoted_implicit != 1, let name = Self.text(scalar.tag), name != "!" {
                        tag = tree.tagCode(name)
                    } else if scalar.quoted_implicit != 1, scalar.tag == nil {
                        tag = YAMLTree.implicitTag
                    }
                    let index = tree.appendScalar(
                        bytes: value,
                        line: line,
                        column: column,
                        tag: tag,
                        style: UInt8(truncatingIfNeeded: scalar.style.rawValue)
                    )
                    if let anchor = Self.text(scalar.anchor) { anchors[anchor] = index }
                    pending.append(index)
                default:
                    guard stack.count < Self.maxDepth else {
                        throw error(line, "YAML nested deeper than \(Self.maxDepth) levels is not supported")
                    }
                    let isMapping = type == YAML_MAPPING_START_EVENT
                    // The two start events share their layout, so `sequence_start` reads either.
                    let start = event.data.sequence_start
                    var tagName = start.implicit != 0 ? nil : Self.text(start.tag)
                    if tagName == "!" { tagName = isMapping ? YAMLKeys.mapTag : YAMLKeys.seqTag }
                    let index = tree.appendCollection(
                        isMapping ? .mapping : .sequence,
                        line: line,
                        column: column,
                        tag: tree.tagCode(tagName),
                        style: UInt8(truncatingIfNeeded: start.style.rawValue)
                    )
                    stack.append(
                        Frame(
                            node: index,
                            isMapping: isMapping,
                            inKey: inKey,
                            firstPending: pending.count,
                            anchor: Self.text(start.anchor)
                        )
                    )
                }
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                guard let frame = stack.popLast() else { break }
                tree.close(frame.node, members: pending[frame.firstPending...])
                pending.removeSubrange(frame.firstPending...)
                if frame.isMapping, let duplicate = YAMLKeys.duplicates(tree, mapping: frame.node, file: file) {
                    throw duplicate
                }
                // Registered once complete, as Yams did: an alias inside its own anchor is undefined.
                if let anchor = frame.anchor { anchors[anchor] = frame.node }
                pending.append(frame.node)
            default:
                break
            }
        }
    }

    private static func text(_ pointer: UnsafeMutablePointer<UInt8>?) -> String? {
        pointer.map { String(cString: $0) }
    }

    private func error(_ line: Int32, _ message: String) -> LocatedError {
        LocatedError(file: file, line: Int(line), field: "", message: message)
    }

    /// libyaml's error, worded as Yams worded it.
    private func parserError() -> LocatedError {
        let state = parser.pointee
        let problem = state.problem.map { String(cString: $0) } ?? "unknown error"
        switch state.error {
        case YAML_SCANNER_ERROR, YAML_PARSER_ERROR, YAML_COMPOSER_ERROR:
            let prefix = state.context.map { "\(String(cString: $0)), " } ?? ""
            return LocatedError(
                file: file,
                line: Int(state.problem_mark.line) + 1 + linesBefore,
                field: "",
                message: "invalid YAML: \(prefix)\(problem)"
            )
        case YAML_MEMORY_ERROR:
            return LocatedError(file: file, line: nil, field: "", message: "invalid YAML: Memory error")
        default:
            return LocatedError(file: file, line: nil, field: "", message: "invalid YAML: \(problem)")
        }
    }
}

/// libyaml's parser alone over a text, composing nothing: the floor of any parser built on its events.
@_spi(Benchmarks)
public enum YAMLEventScan {
    /// The number of events in `text`, or nil at a syntax error.
    public static func count(_ text: String) -> Int? {
        var text = text
        return text.withUTF8 { bytes -> Int? in
            var parser = yaml_parser_t()
            guard yaml_parser_initialize(&parser) == 1 else { return nil }
            defer { yaml_parser_delete(&parser) }
            yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING)
            yaml_parser_set_input_string(&parser, bytes.baseAddress, bytes.count)
            var event = yaml_event_t()
            var count = 0
            while yaml_parser_parse(&parser, &event) == 1 {
                count += 1
                let type = event.type
                yaml_event_delete(&event)
                if type == YAML_STREAM_END_EVENT { return count }
            }
            return nil
        }
    }
}
