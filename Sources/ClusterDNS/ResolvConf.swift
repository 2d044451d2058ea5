import KubeModel

/// A parsed `/etc/resolv.conf`, as one particular C library reads it.
///
/// glibc and musl read the same file differently (which lines count, which options exist, what the caps
/// are), and those differences decide which names a pod's resolver sends. ``SearchPlan`` replays them.
public struct ResolvConf: Hashable, Sendable {
    /// Whose parser and search algorithm to reproduce.
    public enum Library: String, Hashable, Sendable, CaseIterable, CustomStringConvertible {
        /// glibc ≥ 2.26: unlimited search list, options as in resolv.conf(5).
        case glibc
        /// glibc ≤ 2.25: the search line cut to 255 characters (`defdname`), then at most 6 domains (`MAXDNSRCH`).
        case legacyGlibc = "glibc-2.25"
        /// musl ≥ 1.1.13 (search support): lines over 254 characters are skipped whole; only ndots/attempts/timeout.
        case musl

        public var description: String { rawValue }

        /// The caps each library applies while parsing.
        public var limits: Limits {
            switch self {
            case .glibc:
                return Limits(
                    nameservers: 3, searchDomains: nil, searchCharacters: nil, ndots: 15, timeout: 30, attempts: 5)
            case .legacyGlibc:
                return Limits(
                    nameservers: 3, searchDomains: 6, searchCharacters: 255, ndots: 15, timeout: 30, attempts: 5)
            case .musl:
                return Limits(
                    nameservers: 3, searchDomains: nil, searchCharacters: nil, ndots: 15, timeout: 60, attempts: 10)
            }
        }

        /// glibc's family of search walks, versus musl's.
        var searchesLikeGlibc: Bool { self != .musl }
    }

    /// Caps from the libraries' sources: glibc `resolv.h` (`MAXNS` 3, `RES_MAXNDOTS` 15, `RES_MAXRETRANS` 30,
    /// `RES_MAXRETRY` 5), musl `resolvconf.c` (ndots 15, attempts 10, timeout 60, a 256-byte search buffer).
    public struct Limits: Hashable, Sendable {
        public var nameservers: Int
        /// nil: unlimited.
        public var searchDomains: Int?
        /// The longest search line content that survives; nil: unlimited.
        public var searchCharacters: Int?
        public var ndots: Int
        public var timeout: Int
        public var attempts: Int
    }

    public var library: Library
    /// At most ``Limits/nameservers``; later lines are ignored, as both libraries do.
    public var nameservers: [IPAddress]
    /// Search domains in order, without trailing dots. A `.` entry (the root) is kept as `.`.
    public var search: [String]
    public var ndots: Int = 1
    /// Seconds per try (glibc RES_TIMEOUT default 5).
    public var timeout: Int = 5
    /// Tries per server (glibc RES_DFLRETRY default 2).
    public var attempts: Int = 2
    /// glibc flag options that change what is sent: `rotate`, `edns0`, `single-request`, `use-vc`, … in file order.
    public var flags: [Flag] = []
    /// What the library silently dropped or capped, for `kproxy resolve` to show.
    public var notes: [String] = []

    public enum Flag: String, Hashable, Sendable, CaseIterable {
        case rotate
        case edns0
        case singleRequestReopen = "single-request-reopen"
        case singleRequest = "single-request"
        case noTLDQuery = "no-tld-query"
        case noReload = "no-reload"
        case useVC = "use-vc"
        case trustAD = "trust-ad"
        case noAAAA = "no-aaaa"
    }

    public init(
        library: Library = .glibc, nameservers: [IPAddress] = [], search: [String] = [], ndots: Int = 1,
        timeout: Int = 5, attempts: Int = 2, flags: [Flag] = []
    ) {
        self.library = library
        self.nameservers = nameservers
        self.search = search
        self.ndots = ndots
        self.timeout = timeout
        self.attempts = attempts
        self.flags = flags
    }

    public func has(_ flag: Flag) -> Bool { flags.contains(flag) }

    /// What kubelet writes for a `ClusterFirst` pod in `namespace` (pkg/kubelet/network/dns/dns.go).
    public static func pod(
        namespace: String, zone: String, nameserver: IPAddress, library: Library = .glibc, extraSearch: [String] = []
    ) -> ResolvConf {
        var search = ["\(namespace).svc.\(zone)", "svc.\(zone)", zone]
        for domain in extraSearch where !search.contains(domain) { search.append(domain) }
        return ResolvConf(library: library, nameservers: [nameserver], search: search, ndots: 5)
    }

    /// The file a pod gets, in kubelet's layout.
    public var text: String {
        var lines = nameservers.map { "nameserver \($0)" }
        if !search.isEmpty { lines.append("search " + search.joined(separator: " ")) }
        var options: [String] = []
        if ndots != 1 { options.append("ndots:\(ndots)") }
        if timeout != 5 { options.append("timeout:\(timeout)") }
        if attempts != 2 { options.append("attempts:\(attempts)") }
        options += flags.map(\.rawValue)
        if !options.isEmpty { lines.append("options " + options.joined(separator: " ")) }
        return lines.joined(separator: "\n") + "\n"
    }
}
