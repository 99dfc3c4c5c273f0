extension AgentText {
    /// `ipvsctl explain`'s text: one line per check, `STATUS  CHECK  MESSAGE`, and the fix after `fix:` on
    /// the same line, so `grep FAIL` shows each problem with what to do.
    public static func explain(_ report: ExplainReport) -> String {
        let width = report.checks.map(\.check.count).max() ?? 0
        var text = "explain \(report.facts.service ?? report.facts.target)\n"
        for check in report.checks {
            let status = check.status.rawValue.padding(4)
            var line = "\(status)  \(check.check.padding(width))  \(check.message)"
            if let fix = check.fix { line += "; fix: \(fix)" }
            text += line + "\n"
        }
        let failed = report.checks.count { $0.status == .fail }
        let warned = report.checks.count { $0.status == .warn }
        text += "\(report.checks.count) checks: \(failed) failed, \(warned) warning\(warned == 1 ? "" : "s")\n"
        return text
    }
}

extension String {
    fileprivate func padding(_ width: Int) -> String { self + String(repeating: " ", count: max(0, width - count)) }
}
