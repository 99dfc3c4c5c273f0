/// Bounds the work of reading one parsed text. Yams keeps an alias as a shared copy of its anchor's node,
/// so a small text can describe a tree far larger than itself; walking it in full (an EndpointSlice whose
/// thousand endpoints all alias one long address list, nested `kind: List` items) would take time
/// exponential, or quadratic, in the text. `LocatedYAML`'s accessors charge each element they touch, and
/// once the budget is spent they fail with a located error.
///
/// The budget is generous: decoding a text without aliases touches each element a few times, far below the
/// 16 charges per byte of text allowed.
public final class YAMLBudget {
    /// Charges allowed per byte of text.
    public static let chargesPerByte = 16
    /// The budget of any text, however short.
    public static let minimum = 100_000
    /// The start of the message of the error thrown once the budget is spent.
    public static let message = "document too large after alias expansion"

    public let limit: Int
    // Unchecked: a budget belongs to one text, read by one thread; charged on every accessor, the dynamic
    // exclusivity checks of a class property cost more than the charge itself.
    @exclusivity(unchecked) public private(set) var used = 0
    /// The error recorded where the budget ran out; every later accessor fails with it.
    @exclusivity(unchecked) public private(set) var exhaustion: LocatedError?
    /// Whether `exhaustion` is set: checked on every charge, where testing the optional error itself copied
    /// it (a few percent of decoding an API list page).
    @exclusivity(unchecked) private var exhausted = false

    public init(limit: Int) { self.limit = limit }

    /// The budget for a text of `byteCount` bytes.
    public convenience init(textBytes byteCount: Int) {
        let (scaled, overflow) = byteCount.multipliedReportingOverflow(by: Self.chargesPerByte)
        self.init(limit: overflow ? .max : max(Self.minimum, scaled))
    }

    /// A budget that is never spent, for nodes made by hand.
    public static func unlimited() -> YAMLBudget { YAMLBudget(limit: .max) }

    /// Charges `count` touches at `node`; false once the budget is spent.
    @discardableResult
    func charge(_ count: Int, at node: LocatedYAML) -> Bool {
        if exhausted { return false }
        if limit == .max { return true }
        used = used.addingReportingOverflow(count).overflow ? .max : used + count
        guard used > limit else { return true }
        exhaustion = node.error("\(Self.message) (more than \(limit) elements read)")
        exhausted = true
        return false
    }

    /// Charges `count` touches at `node`.
    /// - Throws: the budget error once the budget is spent.
    func spend(_ count: Int, at node: LocatedYAML) throws(LocatedError) {
        if !charge(count, at: node), let exhaustion { throw exhaustion }
    }
}
