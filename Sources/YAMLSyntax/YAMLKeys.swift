import Yams

/// Which mapping keys are the same key, as Yams decided it before this project composed its own trees (so
/// lookups and the duplicate-key error are unchanged): two keys are equal when their texts are equal and
/// their resolved tags are equal. A plain scalar's tag comes from Yams' default resolver (`80` is an int,
/// `true` a bool, `port` a string); a quoted one is a string.
///
/// One difference: texts are compared byte for byte, as Kubernetes (Go) compares keys. Yams compared Swift
/// strings, which also equates canonically equivalent texts (`\u{212A}ind` and `Kind`, a decomposed and a
/// precomposed `é`); such keys are now two keys, not a duplicate.
///
/// Nearly every key is text starting with a letter, whose tag is settled here without a regular expression;
/// anything else asks Yams' resolver itself, so the rules stay Yams' own.
enum YAMLKeys {
    static let strTag = Tag.Name.str.rawValue
    static let mapTag = Tag.Name.map.rawValue
    static let seqTag = Tag.Name.seq.rawValue

    /// The words Yams' default resolver reads as booleans or null; every other text starting with an ASCII
    /// letter is a string (its int, float and timestamp patterns start with a digit, sign or dot).
    private static let nonStringWords: Set<String> = [
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL",
    ]

    /// The tag Yams' default resolver gives the plain scalar `text`.
    static func resolvedPlainTag(_ text: String) -> String {
        if let first = text.utf8.first, (first | 0x20) >= UInt8(ascii: "a"), (first | 0x20) <= UInt8(ascii: "z") {
            switch first | 0x20 {
            case UInt8(ascii: "y"), UInt8(ascii: "n"), UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "o"):
                // The words are 2 to 5 bytes long: most keys are told apart by length without hashing.
                if text.utf8.count <= 5, nonStringWords.contains(text) {
                    return Resolver.default.resolveTag(of: Node(text)).rawValue
                }
            default: break
            }
            // The resolver's `$` also matches before one final line break (ICU's: \n, \v, \f, \r and three
            // non-ASCII ones): only texts ending in one need it.
            guard let last = text.utf8.last, (0x0A...0x0D).contains(last) || last >= 0x80 else { return strTag }
        }
        return Resolver.default.resolveTag(of: Node(text)).rawValue
    }

    /// The resolved tag of scalar node `index`.
    static func resolvedTag(_ tree: YAMLTree, _ index: Int32) -> String {
        tree.tagName(index) ?? resolvedPlainTag(tree.string(index))
    }

    /// Whether scalar node `index` is the key `key` as a lookup by name means it (a plain key `key`).
    @inline(__always)
    static func matches(_ tree: YAMLTree, _ index: Int32, _ key: String) -> Bool {
        let node = tree.node(index)
        guard node.kind == .scalar, tree.scalarEquals(index, key) else { return false }
        if node.tag == YAMLTree.implicitTag { return true }
        let wanted = resolvedPlainTag(key)
        return node.tag == YAMLTree.strTag ? wanted == strTag : tree.tagName(index) == wanted
    }

    /// Whether keys `a` and `b` are the same key.
    static func equal(_ tree: YAMLTree, _ a: Int32, _ b: Int32) -> Bool {
        let (x, y) = (tree.node(a), tree.node(b))
        guard x.kind == y.kind else { return false }
        guard x.kind == .scalar else { return tree.yamsNode(a) == tree.yamsNode(b) }
        guard tree.scalarsEqual(a, b) else { return false }
        if x.tag == y.tag { return true }
        return resolvedTag(tree, a) == resolvedTag(tree, b)
    }

    /// The duplicate-key error of mapping `index`, nil when its keys are unique. As Yams words it: the
    /// duplicated keys sorted, at the line of the first of them.
    static func duplicates(_ tree: YAMLTree, mapping index: Int32, file: String) -> LocatedError? {
        let mapping = tree.node(index)
        let count = Int(mapping.count / 2)
        guard count > 1, hasDuplicate(tree, mapping, count) else { return nil }
        // Rare: group the keys as Yams' Dictionary(grouping:) did, then sort the groups' first keys.
        var groups: [[Int32]] = []
        for entry in 0..<count {
            let key = tree.member(mapping, 2 * entry)
            if let group = groups.firstIndex(where: { equal(tree, $0[0], key) }) {
                groups[group].append(key)
            } else {
                groups.append([key])
            }
        }
        let firsts = groups.filter { $0.count > 1 }.map { $0[0] }
            .sorted { tree.yamsNode($0) < tree.yamsNode($1) }
        let names = firsts.map { tree.node($0).kind == .scalar ? tree.string($0) : "<uncovertable>" }
        return LocatedError(
            file: file,
            line: Int(tree.node(firsts[0]).line),
            field: "",
            message: "duplicate key in mapping: \(names.sorted().joined(separator: ", "))"
        )
    }

    private static func hasDuplicate(_ tree: YAMLTree, _ mapping: YAMLTree.Node, _ count: Int) -> Bool {
        if count <= 12 {
            for i in 1..<count {
                let key = tree.member(mapping, 2 * i)
                for j in 0..<i where equal(tree, tree.member(mapping, 2 * j), key) { return true }
            }
            return false
        }
        // Equal keys have equal texts: only texts seen twice need a closer look. Collections as keys, rare,
        // are compared with each other.
        var seen: [String: Int32] = [:]
        var collections: [Int32] = []
        seen.reserveCapacity(count)
        for i in 0..<count {
            let key = tree.member(mapping, 2 * i)
            guard tree.node(key).kind == .scalar else {
                if collections.contains(where: { equal(tree, $0, key) }) { return true }
                collections.append(key)
                continue
            }
            if let other = seen.updateValue(key, forKey: tree.string(key)) {
                if equal(tree, other, key) { return true }
                // Same text, other tag (`1` and `"1"`): a third key with that text may still equal the first.
                for j in 0..<i where equal(tree, tree.member(mapping, 2 * j), key) { return true }
            }
        }
        return false
    }
}
