import KubeModel

extension ResolvConf {
    /// Reads resolv.conf text the way `library` does, quirks included, and records what it dropped in
    /// ``notes``. It never fails: like the C libraries, it skips what it cannot use.
    ///
    /// - Parameter hostname: glibc's fallback search domain is the part of the host name after its
    ///   first dot when the file has neither `search` nor `domain`.
    public static func parse(_ text: String, library: Library = .glibc, hostname: String? = nil) -> ResolvConf {
        var conf = ResolvConf(library: library)
        var searchLine: Substring?
        var searchWasDomain = false
        let limits = library.limits
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        for (index, line) in lines.enumerated() {
            if library == .musl {
                // musl reads with fgets into 256 bytes and skips a line that did not fit, newline included.
                let atEOF = index == lines.count - 1
                if line.utf8.count > (atEOF ? 255 : 254) {
                    conf.notes.append("line \(index + 1): longer than musl's 256-byte buffer, ignored")
                    continue
                }
            } else if line.first == ";" || line.first == "#" {
                continue
            }
            if let rest = line.afterKeyword("nameserver") {
                guard conf.nameservers.count < limits.nameservers else {
                    conf.notes.append("line \(index + 1): more than \(limits.nameservers) nameservers, ignored")
                    continue
                }
                let token = rest.drop(while: \.isResolvSpace).prefix { !$0.isResolvSpace }
                // A scope suffix (`fe80::1%eth0`) is accepted by both libraries; the address is what matters here.
                if let address = IPAddress(token.prefix { $0 != "%" }) {
                    conf.nameservers.append(address)
                } else {
                    conf.notes.append("line \(index + 1): \(quoted: String(token)) is not an IP address, ignored")
                }
            } else if let rest = line.afterKeyword("search") ?? line.afterKeyword("domain") {
                let content = rest.drop(while: \.isResolvSpace)
                // glibc skips an empty search/domain line; musl copies it, clearing the list.
                if content.isEmpty && library != .musl { continue }
                searchLine = content
                searchWasDomain = line.hasPrefix("domain")
            } else if let rest = line.afterKeyword("options") {
                if library == .musl {
                    conf.applyMuslOptions(rest)
                } else {
                    conf.applyGlibcOptions(rest)
                }
            }
        }
        if let searchLine {
            conf.search = conf.splitSearch(searchLine, singleDomain: searchWasDomain && library != .musl)
        } else if library != .musl, let hostname, let dot = hostname.firstIndex(of: "."),
            !hostname[hostname.index(after: dot)...].isEmpty
        {
            conf.search = [String(hostname[hostname.index(after: dot)...])]
        }
        if conf.nameservers.isEmpty {
            // Both libraries fall back to a server on the local machine.
            conf.nameservers = [.v4(0x7f00_0001)]
        }
        return conf
    }

    /// glibc's `domain` keeps only the first word; `search` keeps every word, within the library's caps.
    mutating func splitSearch(_ content: Substring, singleDomain: Bool) -> [String] {
        let limits = library.limits
        var content = content
        if let cap = limits.searchCharacters, content.count > cap {
            notes.append("search line cut to \(cap) characters")
            content = content.prefix(cap)
        }
        var domains = content.split(whereSeparator: \.isResolvSpace).map(String.init)
        if singleDomain { domains = Array(domains.prefix(1)) }
        if let cap = limits.searchDomains, domains.count > cap {
            notes.append("search list cut to \(cap) domains")
            domains = Array(domains.prefix(cap))
        }
        return domains
    }

    /// `res_setoptions`: `ndots:`, `timeout:`, `attempts:` take `atoi` of what follows (garbage is 0) and are
    /// capped; flags match by prefix, as glibc's `strncmp` table does; anything else is ignored.
    mutating func applyGlibcOptions(_ text: Substring) {
        let limits = library.limits
        for word in text.split(whereSeparator: \.isResolvSpace) {
            if let value = word.valueAfter("ndots:") {
                // `ndots` is a 4-bit field in `struct __res_state`: a negative value wraps.
                let parsed = atoi(value)
                ndots = parsed < 0 ? parsed & 0xF : cappedOption("ndots", parsed, limits.ndots)
            } else if let value = word.valueAfter("timeout:") {
                timeout = cappedOption("timeout", atoi(value), limits.timeout)
            } else if let value = word.valueAfter("attempts:") {
                attempts = cappedOption("attempts", atoi(value), limits.attempts)
            } else if word.hasPrefix("no_tld_query") {
                addFlag(.noTLDQuery)
            } else if let flag = Flag.allCases.first(where: { word.hasPrefix($0.rawValue) }) {
                addFlag(flag)
            } else {
                notes.append("option \(quoted: String(word)) is not one glibc knows, ignored")
            }
        }
    }

    /// musl's `resolvconf.c` looks for `ndots:`, `attempts:` and `timeout:` anywhere in the line, each only
    /// when a digit follows, and ignores every other option.
    mutating func applyMuslOptions(_ text: Substring) {
        let limits = library.limits
        func number(after key: String) -> Int? {
            guard let range = text.range(of: key) else { return nil }
            let digits = text[range.upperBound...].prefix { $0.isASCII && $0.isNumber }
            return digits.isEmpty ? nil : Int(digits.prefix(9))
        }
        if let value = number(after: "ndots:") { ndots = cappedOption("ndots", value, limits.ndots) }
        if let value = number(after: "attempts:") { attempts = cappedOption("attempts", value, limits.attempts) }
        if let value = number(after: "timeout:") { timeout = cappedOption("timeout", value, limits.timeout) }
        for word in text.split(whereSeparator: \.isResolvSpace)
        where !["ndots:", "attempts:", "timeout:"].contains(where: { word.hasPrefix($0) }) {
            notes.append("option \(quoted: String(word)) is ignored by musl")
        }
    }

    mutating func cappedOption(_ name: String, _ value: Int, _ cap: Int) -> Int {
        guard value > cap else { return value }
        notes.append("\(name):\(value) capped to \(cap)")
        return cap
    }

    mutating func addFlag(_ flag: Flag) {
        if !flags.contains(flag) { flags.append(flag) }
    }

    /// C's `atoi`: optional sign, leading digits, 0 when there are none.
    func atoi(_ text: Substring) -> Int {
        var rest = text.drop(while: \.isResolvSpace)
        var sign = 1
        if let first = rest.first, first == "-" || first == "+" {
            sign = first == "-" ? -1 : 1
            rest = rest.dropFirst()
        }
        let digits = rest.prefix { $0.isASCII && $0.isNumber }.prefix(9)
        return sign * (Int(digits) ?? 0)
    }
}

extension Character {
    /// The separators both libraries split resolv.conf words on.
    var isResolvSpace: Bool { self == " " || self == "\t" || self == "\r" || self == "\u{0B}" || self == "\u{0C}" }
}

extension Substring {
    /// The rest of the line when it starts with `keyword` followed by a blank, as glibc's `MATCH` and musl's
    /// `strncmp` + `isspace` require.
    func afterKeyword(_ keyword: String) -> Substring? {
        guard hasPrefix(keyword) else { return nil }
        let rest = dropFirst(keyword.count)
        guard let next = rest.first, next.isResolvSpace else { return nil }
        return rest
    }

    func valueAfter(_ prefix: String) -> Substring? {
        hasPrefix(prefix) ? dropFirst(prefix.count) : nil
    }
}
