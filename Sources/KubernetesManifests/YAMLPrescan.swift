// libyaml, which Yams builds as its CYaml module: only libyaml's event stream tells exactly where aliases and
// keys are, and Yams does not expose it. This is the only file that imports it.
import CYaml

/// Checks a YAML text before Yams composes it, so two inputs that cost Yams far more than their size are
/// refused with a located error instead:
///
/// - an alias inside a mapping key (`? *a`, `*a : x`, `[*a] : x`): Yams' duplicate-key check hashes every
///   key, and an aliased key hashes its whole expansion (nine nested nine-element lists: 9^9 nodes from 351
///   bytes, a minute of CPU);
/// - nesting deeper than `maxDepth`: Yams composes recursively, and a deep enough text overflows the stack.
///
/// It runs libyaml's own parser over the text once (iterative, linear time, no node tree), so it sees the
/// text exactly as Yams will: no alias is missed and nothing inside a string or comment is mistaken for
/// one. A syntax error ends the check quietly: Yams stops at the same place and reports it, and everything
/// before it has been checked.
enum YAMLPrescan {
    /// The deepest nesting of collections accepted; Kubernetes objects need about 10.
    static let maxDepth = 256

    static func check(_ text: String, file: String) throws(ManifestError) {
        // Without a `*` byte the text has no alias, so only depth needs the parser: skip it when the text is
        // too short to be that deep.
        let bytes = text.utf8
        if bytes.count <= maxDepth, !bytes.contains(UInt8(ascii: "*")) { return }
        let result =
            bytes.withContiguousStorageIfAvailable { scan($0, file: file) }
            ?? Array(bytes).withUnsafeBufferPointer { scan($0, file: file) }
        if let error = result { throw error }
    }

    private struct Frame {
        var isMapping: Bool
        /// Whether this collection is a mapping key or lies inside one.
        var inKey: Bool
        /// Nodes read so far: in a mapping, even counts mean the next node is a key.
        var children = 0
    }

    private static func scan(_ buffer: UnsafeBufferPointer<UInt8>, file: String) -> ManifestError? {
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        defer { parser.deallocate() }
        guard yaml_parser_initialize(parser) == 1 else { return nil }
        defer { yaml_parser_delete(parser) }
        yaml_parser_set_encoding(parser, YAML_UTF8_ENCODING)
        yaml_parser_set_input_string(parser, buffer.baseAddress, buffer.count)
        var stack: [Frame] = []
        var event = yaml_event_t()
        while true {
            guard yaml_parser_parse(parser, &event) == 1 else { return nil }
            defer { yaml_event_delete(&event) }
            let line = Int(event.start_mark.line) + 1
            switch event.type {
            case YAML_STREAM_END_EVENT:
                return nil
            case YAML_ALIAS_EVENT, YAML_SCALAR_EVENT, YAML_SEQUENCE_START_EVENT, YAML_MAPPING_START_EVENT:
                var inKey = false
                if let parent = stack.last {
                    inKey = parent.inKey || (parent.isMapping && parent.children % 2 == 0)
                    stack[stack.count - 1].children += 1
                }
                if event.type == YAML_ALIAS_EVENT, inKey {
                    return ManifestError(
                        file: file,
                        line: line,
                        field: "",
                        message: "YAML aliases in mapping keys are not supported"
                    )
                }
                if event.type == YAML_SEQUENCE_START_EVENT || event.type == YAML_MAPPING_START_EVENT {
                    guard stack.count < maxDepth else {
                        return ManifestError(
                            file: file,
                            line: line,
                            field: "",
                            message: "YAML nested deeper than \(maxDepth) levels is not supported"
                        )
                    }
                    stack.append(Frame(isMapping: event.type == YAML_MAPPING_START_EVENT, inKey: inKey))
                }
            case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
                _ = stack.popLast()
            default:
                break
            }
        }
    }
}
