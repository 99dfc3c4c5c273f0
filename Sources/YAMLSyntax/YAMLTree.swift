#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One composed YAML document, stored flat: a node is a small record in one array, a collection's members are
/// a run of node indices in another, and scalar texts lie back to back in a byte array. Composing it costs a
/// few appends per event (no per-node objects, no tag resolution, no `String` per scalar), and an alias is
/// the index of its anchor's node, so a document with aliases is a graph no larger than its text;
/// `YAMLBudget` bounds how much of it is walked.
///
/// A scalar becomes a `String` only when a decoder reads it (``string(_:)``); keys are compared as bytes. An
/// API object's uid, timestamps, owner references and managed fields are never read, and making a `String`
/// of every scalar (and releasing it with the tree) was about a sixth of decoding a list page.
///
/// `YAMLComposer` builds it from libyaml's events; `LocatedYAML` reads it.
final class YAMLTree {
    enum Kind: UInt8 {
        case scalar, sequence, mapping
    }

    /// Tag codes: no tag (a plain scalar's type comes from its text; a collection's from its kind), `!!str`
    /// (a quoted scalar, `!` or `!!str`), or an index into `tagNames` plus `firstNamedTag`.
    static let implicitTag: Int32 = 0
    static let strTag: Int32 = 1
    static let firstNamedTag: Int32 = 2

    struct Node {
        /// A scalar's first byte in `text`; a collection's first member in `members`.
        var start: Int32
        /// A scalar's length in bytes; a collection's member count (a mapping's keys and values alternate, so
        /// twice its entries).
        var count: Int32
        /// 1-based, as in messages.
        var line: Int32
        var column: Int32
        var tag: Int32
        var kind: Kind
        /// libyaml's style number (`yaml_scalar_style_t` and friends, same values as Yams' `Style`s).
        var style: UInt8
    }

    // Written only by the composer that creates the tree, on one thread, before anyone reads it; read-only
    // after that. The dynamic exclusivity check Swift puts on every access to a class's stored property was
    // a fifth of decoding an API list page (perf, `ipvs-bench native --only-decode`); nothing here can
    // overlap a write with another access, so it is turned off for these four.
    @exclusivity(unchecked) var nodes: [Node] = []
    @exclusivity(unchecked) var members: [Int32] = []
    /// Every scalar's UTF-8, back to back. Offsets are Int32: the texts composed are at most
    /// `LocatedYAML.maxTextBytes`, and a scalar's text is never longer than where it was read.
    @exclusivity(unchecked) var text: [UInt8] = []
    @exclusivity(unchecked) var tagNames: [String] = []
    var root: Int32 = 0

    init() {}

    @inline(__always) func node(_ index: Int32) -> Node { nodes[Int(index)] }

    /// The text of scalar `index`, made into a `String` now.
    func string(_ index: Int32) -> String {
        withBytes(of: index) { String(decoding: $0, as: UTF8.self) }
    }

    /// Whether the text of scalar `index` is `other`, compared as bytes.
    func scalarEquals(_ index: Int32, _ other: String) -> Bool {
        withBytes(of: index) { own in
            let bytes = other.utf8
            guard own.count == bytes.count else { return false }
            guard let base = own.baseAddress, !own.isEmpty else { return true }
            return bytes.withContiguousStorageIfAvailable { memcmp(base, $0.baseAddress!, $0.count) == 0 }
                ?? own.elementsEqual(bytes)
        }
    }

    /// Whether scalars `a` and `b` have the same text.
    func scalarsEqual(_ a: Int32, _ b: Int32) -> Bool {
        withBytes(of: a) { x in
            withBytes(of: b) { y in
                guard x.count == y.count else { return false }
                guard let xBase = x.baseAddress, let yBase = y.baseAddress, !x.isEmpty else { return true }
                return memcmp(xBase, yBase, x.count) == 0
            }
        }
    }

    /// The UTF-8 of scalar `index`, in place.
    func withBytes<R>(of index: Int32, _ body: (UnsafeBufferPointer<UInt8>) -> R) -> R {
        let node = nodes[Int(index)]
        return text.withUnsafeBufferPointer {
            body(UnsafeBufferPointer(rebasing: $0[Int(node.start)..<Int(node.start + node.count)]))
        }
    }

    @inline(__always) func member(_ node: Node, _ offset: Int) -> Int32 { members[Int(node.start) + offset] }

    /// The explicit tag name of a node, nil when it has none (`!!str` for quoted scalars).
    func tagName(_ index: Int32) -> String? {
        let tag = node(index).tag
        switch tag {
        case Self.implicitTag: return nil
        case Self.strTag: return YAMLKeys.strTag
        default: return tagNames[Int(tag - Self.firstNamedTag)]
        }
    }

    /// Whether the node is a scalar written plain (as opposed to quoted or block), the only ones that can be
    /// numbers, booleans or null.
    @inline(__always) func isPlainScalar(_ index: Int32) -> Bool {
        let node = node(index)
        return node.kind == .scalar && (node.style == plainStyle || node.style == anyStyle)
    }

    /// libyaml's `YAML_ANY_SCALAR_STYLE` (nodes made by hand) and `YAML_PLAIN_SCALAR_STYLE`.
    let anyStyle: UInt8 = 0
    let plainStyle: UInt8 = 1

    // MARK: Paths

    /// One step of a field path: a mapping's value under a key, or a sequence's element.
    enum PathStep {
        case key(String)
        case index(Int)
    }

    /// The steps from `base` down to `target`, found by descent: nodes are numbered in document order
    /// (a collection before its members), so the member holding `target` is the last one numbered after its
    /// collection and not after `target` (a member numbered before is an alias). A mapping key ends the
    /// steps at its mapping. Empty when `target` lies outside `base` except through an alias.
    func steps(from base: Int32, to target: Int32) -> [PathStep] {
        var steps: [PathStep] = []
        var current = base
        while current != target {
            let collection = node(current)
            guard collection.kind != .scalar, target > current else { return [] }
            var next: Int32 = -1
            var position = -1
            for offset in 0..<Int(collection.count) {
                let member = member(collection, offset)
                if member > current, member <= target, member > next {
                    next = member
                    position = offset
                }
            }
            guard position >= 0 else { return [] }
            if collection.kind == .mapping {
                // A key (or a node inside a complex key) is named by its mapping's path.
                guard position % 2 == 1 else { return steps }
                let key = member(collection, position - 1)
                steps.append(.key(node(key).kind == .scalar ? string(key) : "<complex key>"))
            } else {
                steps.append(.index(position))
            }
            current = next
        }
        return steps
    }

    // MARK: Building

    func appendScalar(_ scalar: String, line: Int32, column: Int32, tag: Int32, style: UInt8) -> Int32 {
        var scalar = scalar
        return scalar.withUTF8 { appendScalar(bytes: $0, line: line, column: column, tag: tag, style: style) }
    }

    /// A scalar whose text is `bytes` (valid UTF-8).
    func appendScalar(
        bytes: UnsafeBufferPointer<UInt8>,
        line: Int32,
        column: Int32,
        tag: Int32,
        style: UInt8
    )
        -> Int32
    {
        let start = Int32(text.count)
        text.append(contentsOf: bytes)
        let node = Node(
            start: start,
            count: Int32(bytes.count),
            line: line,
            column: column,
            tag: tag,
            kind: .scalar,
            style: style
        )
        nodes.append(node)
        return Int32(nodes.count - 1)
    }

    /// A collection whose members are filled in by `close` once its end is read.
    func appendCollection(_ kind: Kind, line: Int32, column: Int32, tag: Int32, style: UInt8) -> Int32 {
        nodes.append(Node(start: 0, count: 0, line: line, column: column, tag: tag, kind: kind, style: style))
        return Int32(nodes.count - 1)
    }

    func close(_ index: Int32, members newMembers: ArraySlice<Int32>) {
        nodes[Int(index)].start = Int32(members.count)
        nodes[Int(index)].count = Int32(newMembers.count)
        members.append(contentsOf: newMembers)
    }

    func tagCode(_ name: String?) -> Int32 {
        guard let name else { return Self.implicitTag }
        if name == YAMLKeys.strTag { return Self.strTag }
        if let known = tagNames.firstIndex(of: name) { return Int32(known) + Self.firstNamedTag }
        tagNames.append(name)
        return Int32(tagNames.count - 1) + Self.firstNamedTag
    }
}
