extension Duration {
    /// Whole nanoseconds, saturating at `Int64.max`: what metrics histograms and NIO time amounts take.
    public var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? .max : product &+ attoseconds / 1_000_000_000
    }
}
