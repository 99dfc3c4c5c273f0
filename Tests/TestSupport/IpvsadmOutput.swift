/// ipvsctl adds "hint:" lines after ipvsadm's message; comparisons with ipvsadm drop them, the rest must match.
public func withoutHints(_ text: String) -> String {
    text.split(separator: "\n", omittingEmptySubsequences: false).filter { !$0.hasPrefix("hint:") }
        .joined(separator: "\n")
}
