/// The names a C library's `getaddrinfo` sends for one name, in order, and when it stops.
///
/// glibc (`__res_context_search` in `resolv/res_query.c`) tries names with at least `ndots` dots as-is
/// first, then every search suffix, then as-is last if it has not yet; it walks on through NXDOMAIN,
/// NODATA and SERVFAIL. musl (`name_from_dns_search` in `src/network/lookup_name.c`) never searches names
/// with at least `ndots` dots and stops at anything but NXDOMAIN. kproxy's server-side search and
/// `kproxy resolve` both follow these plans, and the glibc integration test checks them against the real
/// resolver's queries.
public struct SearchPlan: Hashable, Sendable {
    public var name: String
    public var library: ResolvConf.Library
    /// Every name the library may send, in order; the walk stops early on an answer or a hard error.
    public var candidates: [Candidate]
    /// The query types sent for each candidate, in order: A and AAAA in parallel for `AF_UNSPEC`.
    public var queryTypes: [UInt16]

    public struct Candidate: Hashable, Sendable, CustomStringConvertible {
        /// Absolute, with a trailing dot.
        public var name: String
        public var origin: Origin
        /// False when the library gives up instead of sending it (too long, or musl's `name..` for a `.` domain).
        public var sendable: Bool

        public enum Origin: Hashable, Sendable {
            case asIs
            case search(String)
        }

        public var description: String {
            switch origin {
            case .asIs: return name
            case .search(let domain): return "\(name) (search \(domain))"
            }
        }
    }

    /// One DNS response as a resolver classifies it.
    public struct Response: Hashable, Sendable, CustomStringConvertible {
        /// The header's RCODE; nil when no response came (timeout).
        public var rcode: UInt8?
        /// Records of the asked type in the answer section.
        public var answers: Int

        public init(rcode: UInt8?, answers: Int) {
            self.rcode = rcode
            self.answers = answers
        }

        public static let noError: UInt8 = 0
        public static let formatError: UInt8 = 1
        public static let serverFailure: UInt8 = 2
        public static let nameError: UInt8 = 3

        public static func answer(_ count: Int = 1) -> Response { Response(rcode: noError, answers: count) }
        public static let noData = Response(rcode: noError, answers: 0)
        public static let nxDomain = Response(rcode: nameError, answers: 0)
        public static let servFail = Response(rcode: serverFailure, answers: 0)
        public static let timeout = Response(rcode: nil, answers: 0)

        var hasAnswer: Bool { rcode == Response.noError && answers > 0 }

        public var description: String {
            switch rcode {
            case nil: return "timeout"
            case Response.noError: return answers > 0 ? "\(answers) answer\(answers == 1 ? "" : "s")" : "NODATA"
            case Response.serverFailure: return "SERVFAIL"
            case Response.nameError: return "NXDOMAIN"
            case Response.formatError: return "FORMERR"
            case 5: return "REFUSED"
            case let code?: return "RCODE \(code)"
            }
        }
    }

    /// What the library does after one candidate's responses.
    public enum Verdict: Hashable, Sendable {
        case found
        case next
        case stop
    }

    public struct Step: Hashable, Sendable {
        public var candidate: Candidate
        /// One per ``queryTypes`` entry; empty when the candidate was not sendable.
        public var responses: [Response]
        public var verdict: Verdict
    }

    public static let typeA: UInt16 = 1
    public static let typeAAAA: UInt16 = 28

    /// glibc's `MAXDNAME`: `__res_context_querydomain` refuses a name plus domain of this length or more.
    static let glibcMaxName = 1025

    public init(name: String, conf: ResolvConf) {
        self.name = name
        library = conf.library
        queryTypes =
            conf.has(.noAAAA) && conf.library != .musl ? [SearchPlan.typeA] : [SearchPlan.typeA, SearchPlan.typeAAAA]
        candidates = conf.library.searchesLikeGlibc ? SearchPlan.glibc(name, conf) : SearchPlan.musl(name, conf)
    }

    static func glibc(_ name: String, _ conf: ResolvConf) -> [Candidate] {
        guard !name.isEmpty else { return [] }
        let dots = name.utf8.count { $0 == UInt8(ascii: ".") }
        let trailingDot = name.hasSuffix(".")
        let asIs = Candidate(name: trailingDot ? name : name + ".", origin: .asIs, sendable: true)
        var result: [Candidate] = []
        var triedAsIs = false
        if dots >= conf.ndots || trailingDot {
            result.append(asIs)
            if trailingDot { return result }
            triedAsIs = true
        }
        var rootOnList = false
        for entry in conf.search {
            let domain = entry.hasPrefix(".") ? String(entry.dropFirst()) : entry
            if domain.isEmpty { rootOnList = true }
            let full = domain.isEmpty ? name + "." : name + "." + (domain.hasSuffix(".") ? domain : domain + ".")
            let fits = name.utf8.count + domain.utf8.count + 1 < glibcMaxName
            result.append(Candidate(name: full, origin: .search(entry), sendable: fits))
        }
        let searched = !conf.search.isEmpty
        if (dots > 0 || !searched || !conf.has(.noTLDQuery)) && !(triedAsIs || rootOnList) {
            result.append(asIs)
        }
        return result
    }

    static func musl(_ name: String, _ conf: ResolvConf) -> [Candidate] {
        guard !name.isEmpty else { return [] }
        let dots = name.utf8.count { $0 == UInt8(ascii: ".") }
        let trailingDot = name.hasSuffix(".")
        let asIs = Candidate(name: trailingDot ? name : name + ".", origin: .asIs, sendable: true)
        guard dots < conf.ndots && !trailingDot else { return [asIs] }
        var result: [Candidate] = []
        let length = name.utf8.count
        for domain in conf.search where domain.utf8.count < 256 - length - 1 {
            // `__res_mkquery` strips one trailing dot and rejects a name that still ends in one (`web..`).
            let joined = name + "." + domain
            let trimmed = joined.hasSuffix(".") ? String(joined.dropLast()) : joined
            result.append(Candidate(name: trimmed + ".", origin: .search(domain), sendable: !trimmed.hasSuffix(".")))
        }
        result.append(asIs)
        return result
    }

    /// The library's decision after the responses to one candidate, one per ``queryTypes`` entry.
    public func verdict(_ responses: [Response]) -> Verdict {
        library.searchesLikeGlibc ? SearchPlan.glibcVerdict(responses) : SearchPlan.muslVerdict(responses)
    }

    /// `__res_context_query` with an A+AAAA pair: found if either has an answer; otherwise the first
    /// non-NOERROR rcode decides, and only NXDOMAIN, SERVFAIL and NODATA let `__res_context_search` walk on.
    static func glibcVerdict(_ responses: [Response]) -> Verdict {
        if responses.contains(where: \.hasAnswer) { return .found }
        guard responses.allSatisfy({ $0.rcode != nil }) else { return .stop }
        let rcode = responses.first { $0.rcode != Response.noError }?.rcode ?? Response.noError
        switch rcode {
        case Response.nameError, Response.serverFailure, Response.noError: return .next
        default: return .stop
        }
    }

    /// `name_from_dns`: responses are checked in order; NXDOMAIN walks on at once, SERVFAIL, a timeout or
    /// another error stops, and NOERROR without addresses is `EAI_NODATA`, which also stops.
    static func muslVerdict(_ responses: [Response]) -> Verdict {
        for response in responses {
            guard let rcode = response.rcode, rcode != Response.serverFailure else { return .stop }
            if rcode == Response.nameError { return .next }
            if rcode != Response.noError { return .stop }
        }
        return responses.contains(where: \.hasAnswer) ? .found : .stop
    }

    /// Replays the walk, asking `resolve` for each candidate's responses (one per ``queryTypes`` entry).
    public func walk(_ resolve: (Candidate) throws -> [Response]) rethrows -> [Step] {
        var steps: [Step] = []
        for candidate in candidates {
            guard candidate.sendable else {
                steps.append(Step(candidate: candidate, responses: [], verdict: .stop))
                break
            }
            let responses = try resolve(candidate)
            let verdict = verdict(responses)
            steps.append(Step(candidate: candidate, responses: responses, verdict: verdict))
            if verdict != .next { break }
        }
        return steps
    }
}
