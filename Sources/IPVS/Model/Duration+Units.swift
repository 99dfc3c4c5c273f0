extension Duration {
    /// Whole nanoseconds, saturating at `Int64.max`: what metrics histograms, NIO time amounts and Go-style
    /// duration checks take.
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        let (sum, overflowed) = product.addingReportingOverflow(attoseconds / 1_000_000_000)
        return overflowed ? (seconds < 0 ? .min : .max) : sum
    }

    /// Whole milliseconds rounded up, saturating: a poll timeout never shorter than the time asked for.
    public var millisecondsRoundedUp: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1000)
        guard !overflow else { return seconds < 0 ? .min : .max }
        let part = (attoseconds + 999_999_999_999_999) / 1_000_000_000_000_000
        let (sum, overflowed) = product.addingReportingOverflow(part)
        return overflowed ? .max : sum
    }

    /// Seconds as a floating-point number, for logs, metrics and reports.
    public var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }

    /// Milliseconds as a floating-point number, seconds included, for logs and reports.
    public var milliseconds: Double { Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15 }
}
