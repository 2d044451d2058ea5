import ClusterDNS
import KubeModel
import Testing

@Suite("resolv.conf parsing and the glibc/musl search plans")
struct SearchPlanTests {
    static let podConf = """
        nameserver 10.96.0.10
        search demo.svc.cluster.local svc.cluster.local cluster.local
        options ndots:5
        """

    @Test func parsesWhatKubeletWrites() {
        let conf = ResolvConf.parse(Self.podConf)
        #expect(conf.nameservers == [IPAddress("10.96.0.10")!])
        #expect(conf.search == ["demo.svc.cluster.local", "svc.cluster.local", "cluster.local"])
        #expect(conf.ndots == 5 && conf.timeout == 5 && conf.attempts == 2)
        #expect(conf.notes.isEmpty)
        #expect(ResolvConf.parse(conf.text) == conf)
    }

    @Test func glibcQuirks() {
        let conf = ResolvConf.parse(
            """
            # comment
            ; comment
             nameserver 192.0.2.99
            nameserver 192.0.2.1
            nameserver fe80::1%eth0
            nameserver 192.0.2.3
            nameserver 192.0.2.4
            search first.example
            domain second.example third.example
            options ndots:20 timeout:99 attempts:9 rotate edns0 single-request-reopen no-aaaa trust-ad bogus
            options ndots:x
            """)
        // A leading blank hides the keyword; the fourth server is over MAXNS.
        #expect(conf.nameservers.map(\.description) == ["192.0.2.1", "fe80::1", "192.0.2.3"])
        // The last of search/domain wins, and domain keeps one word.
        #expect(conf.search == ["second.example"])
        // atoi("x") is 0; the other values are capped.
        #expect(conf.ndots == 0 && conf.timeout == 30 && conf.attempts == 5)
        #expect(conf.flags == [.rotate, .edns0, .singleRequestReopen, .noAAAA, .trustAD])
        #expect(conf.notes.contains { $0.contains("bogus") })
    }

    @Test func searchLimitsDifferByLibraryVersion() {
        let domains = (1...8).map { "d\($0).example" }
        let text = "search " + domains.joined(separator: " ") + "\n"
        #expect(ResolvConf.parse(text).search == domains, "glibc 2.26+ has no limit")
        #expect(ResolvConf.parse(text, library: .legacyGlibc).search == Array(domains.prefix(6)))
        let long = (1...30).map { String(repeating: "x", count: 10) + "\($0).io" }
        let cut = ResolvConf.parse("search " + long.joined(separator: " "), library: .legacyGlibc)
        #expect(cut.search.joined(separator: " ").count <= 255)
    }

    @Test func muslQuirks() {
        let conf = ResolvConf.parse(
            """
            nameserver 192.0.2.1
            options timeout:100 attempts:20 ndots:3 rotate
            search a.example b.example
            \("search " + String(repeating: "z", count: 260))
            """, library: .musl)
        #expect(conf.timeout == 60 && conf.attempts == 10 && conf.ndots == 3)
        #expect(conf.flags.isEmpty)
        // The over-long line does not fit musl's 256-byte buffer and is skipped whole.
        #expect(conf.search == ["a.example", "b.example"])
        #expect(ResolvConf.parse("", library: .musl).nameservers == [IPAddress("127.0.0.1")!])
    }

    @Test func glibcHostnameFallback() {
        #expect(ResolvConf.parse("nameserver 192.0.2.1\n", hostname: "node1.corp.example").search == ["corp.example"])
    }

    static var pod: ResolvConf { ResolvConf.parse(podConf) }

    @Test(arguments: [
        // Fewer than ndots dots: every suffix, then the name itself.
        (
            "web",
            ["web.demo.svc.cluster.local.", "web.svc.cluster.local.", "web.cluster.local.", "web."]
        ),
        (
            "api.example.com",
            [
                "api.example.com.demo.svc.cluster.local.", "api.example.com.svc.cluster.local.",
                "api.example.com.cluster.local.", "api.example.com.",
            ]
        ),
        // ndots or more: as-is first, then glibc still searches.
        (
            "a.b.c.d.e.f",
            [
                "a.b.c.d.e.f.", "a.b.c.d.e.f.demo.svc.cluster.local.", "a.b.c.d.e.f.svc.cluster.local.",
                "a.b.c.d.e.f.cluster.local.",
            ]
        ),
        // A trailing dot: only the name.
        ("web.demo.svc.cluster.local.", ["web.demo.svc.cluster.local."]),
    ])
    func glibcCandidates(name: String, expected: [String]) {
        #expect(SearchPlan(name: name, conf: Self.pod).candidates.map(\.name) == expected)
    }

    @Test func muslNeverSearchesNamesWithNdotsDots() {
        var conf = Self.pod
        conf.library = .musl
        #expect(SearchPlan(name: "a.b.c.d.e.f", conf: conf).candidates.map(\.name) == ["a.b.c.d.e.f."])
        #expect(SearchPlan(name: "web", conf: conf).candidates.count == 4)
    }

    @Test func rootAndNoTLDQuery() {
        var conf = ResolvConf(search: ["example.org", "."], ndots: 1)
        #expect(SearchPlan(name: "host", conf: conf).candidates.map(\.name) == ["host.example.org.", "host."])
        conf.search = ["example.org"]
        conf.flags = [.noTLDQuery]
        #expect(SearchPlan(name: "host", conf: conf).candidates.map(\.name) == ["host.example.org."])
        #expect(SearchPlan(name: "a.host", conf: conf).candidates.map(\.name) == ["a.host.", "a.host.example.org."])
        conf.library = .musl
        conf.search = [".", "example.org"]
        let musl = SearchPlan(name: "host", conf: conf)
        #expect(musl.candidates.first?.sendable == false, "musl builds `host..` and gives up")
        #expect(musl.walk { _ in [.nxDomain, .nxDomain] }.count == 1)
    }

    @Test func glibcWalksOnThroughNODATAAndSERVFAILButMuslStops() {
        let glibc = SearchPlan(name: "api", conf: Self.pod)
        var musl = Self.pod
        musl.library = .musl
        let muslPlan = SearchPlan(name: "api", conf: musl)
        let answers: [String: [SearchPlan.Response]] = [
            "api.demo.svc.cluster.local.": [.noData, .noData],
            "api.svc.cluster.local.": [.servFail, .servFail],
            "api.cluster.local.": [.nxDomain, .nxDomain],
            "api.": [.answer(), .noData],
        ]
        let glibcSteps = glibc.walk { answers[$0.name]! }
        #expect(glibcSteps.map(\.verdict) == [.next, .next, .next, .found])
        let muslSteps = muslPlan.walk { answers[$0.name]! }
        #expect(muslSteps.map(\.verdict) == [.stop])
        // glibc treats REFUSED and timeouts as final; either answer of the pair is enough.
        #expect(glibc.verdict([.nxDomain, .answer()]) == .found)
        #expect(glibc.verdict([SearchPlan.Response(rcode: 5, answers: 0), .nxDomain]) == .stop)
        #expect(glibc.verdict([.timeout, .nxDomain]) == .stop)
        // musl walks on as soon as the A response is NXDOMAIN, whatever AAAA said.
        #expect(muslPlan.verdict([.nxDomain, .answer()]) == .next)
        #expect(muslPlan.verdict([.noData, .answer()]) == .found)
    }

    @Test func noAAAAOnlyAsksA() {
        let conf = ResolvConf(search: [], ndots: 1, flags: [.noAAAA])
        #expect(SearchPlan(name: "x", conf: conf).queryTypes == [SearchPlan.typeA])
    }
}
