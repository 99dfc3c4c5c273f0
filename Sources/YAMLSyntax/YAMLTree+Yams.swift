import Yams

/// Conversions between `YAMLTree` and Yams' `Node`, for `LocatedYAML`'s Yams-facing API (`node`,
/// `init(node:)`) and for comparing collections used as mapping keys, which is rare. Yams' `Mark` has no
/// public initializer, so converted nodes carry no line.
extension YAMLTree {
    /// The Yams node of node `index`; an alias's target is converted once and shared, as Yams shares it.
    func yamsNode(_ index: Int32) -> Yams.Node {
        var done: [Int32: Yams.Node] = [:]
        return yamsNode(index, &done)
    }

    private func yamsNode(_ index: Int32, _ done: inout [Int32: Yams.Node]) -> Yams.Node {
        if let node = done[index] { return node }
        let record = node(index)
        let tag = Tag(tagName(index).map { Tag.Name(rawValue: $0) } ?? .implicit)
        let result: Yams.Node
        switch record.kind {
        case .scalar:
            let style = Yams.Node.Scalar.Style(rawValue: UInt32(record.style)) ?? .any
            result = .scalar(.init(string(index), tag, style))
        case .sequence:
            let style = Yams.Node.Sequence.Style(rawValue: UInt32(record.style)) ?? .any
            let items = (0..<Int(record.count)).map { yamsNode(member(record, $0), &done) }
            result = .sequence(.init(items, tag, style))
        case .mapping:
            let style = Yams.Node.Mapping.Style(rawValue: UInt32(record.style)) ?? .any
            let pairs = (0..<Int(record.count / 2)).map {
                (yamsNode(member(record, 2 * $0), &done), yamsNode(member(record, 2 * $0 + 1), &done))
            }
            result = .mapping(.init(pairs, tag, style))
        }
        done[index] = result
        return result
    }

    /// A tree holding a copy of `node` (made by hand: an alias-heavy document converted to Yams and back
    /// would be copied in full).
    convenience init(_ node: Yams.Node) {
        self.init()
        root = add(node)
    }

    private func add(_ node: Yams.Node) -> Int32 {
        let line = Int32(clamping: node.mark?.line ?? 1)
        let column = Int32(clamping: node.mark?.column ?? 1)
        // `Tag.description` is its name, empty when implicit.
        let explicit = node.tag.description.isEmpty ? nil : node.tag.description
        switch node {
        case .scalar(let scalar):
            return appendScalar(
                scalar.string,
                line: line,
                column: column,
                tag: tagCode(explicit),
                style: UInt8(truncatingIfNeeded: scalar.style.rawValue)
            )
        case .sequence(let sequence):
            let index = appendCollection(
                .sequence,
                line: line,
                column: column,
                tag: tagCode(explicit),
                style: UInt8(truncatingIfNeeded: sequence.style.rawValue)
            )
            close(index, members: ArraySlice(sequence.map { add($0) }))
            return index
        case .mapping(let mapping):
            let index = appendCollection(
                .mapping,
                line: line,
                column: column,
                tag: tagCode(explicit),
                style: UInt8(truncatingIfNeeded: mapping.style.rawValue)
            )
            close(index, members: ArraySlice(mapping.flatMap { [add($0.key), add($0.value)] }))
            return index
        case .alias(let alias):
            return appendScalar("*\(alias.anchor)", line: line, column: column, tag: YAMLTree.implicitTag, style: 0)
        }
    }
}
