/// Parses Go's `time.Duration` text (`30s`, `1m30s`, `24h0m0s`, `500ms`), the form kube-proxy's config uses.
enum GoDuration {
    /// Returns nil for anything Go's `time.ParseDuration` would reject, and for negative durations.
    static func parse(_ text: String) -> Duration? {
        if text == "0" { return .zero }
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        var total = Duration.zero
        while !rest.isEmpty {
            let number = rest.prefix { $0.isNumber || $0 == "." }
            guard !number.isEmpty, let value = Double(number) else { return nil }
            rest = rest.dropFirst(number.count)
            let unit = rest.prefix { !$0.isNumber && $0 != "." }
            rest = rest.dropFirst(unit.count)
            let nanoseconds: Double
            switch unit {
            case "ns": nanoseconds = 1
            case "us", "µs": nanoseconds = 1e3
            case "ms": nanoseconds = 1e6
            case "s": nanoseconds = 1e9
            case "m": nanoseconds = 60e9
            case "h": nanoseconds = 3600e9
            default: return nil
            }
            let part = value * nanoseconds
            guard part.isFinite, part < 1e18 else { return nil }
            total += .nanoseconds(Int64(part))
        }
        return total
    }
}
