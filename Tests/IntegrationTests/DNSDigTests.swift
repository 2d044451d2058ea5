import ClusterDNS
import ClusterModel
import Foundation
import KubeModel
import Logging
import Testing

/// `dig` against the real UDP and TCP servers answering the demo cluster plus richer fixtures.
@Suite("dig against kproxy's DNS server", .serialized)
struct DNSDigTests {
    /// A server on a free loopback port, answering the rich fixture; closed by the test.
    struct Running {
        let listeners: DNSServer<ClusterResponder>.Listeners
        let port: Int
        let manifests: URL

        func close() async {
            await listeners.close()
            try? FileManager.default.removeItem(at: manifests)
        }
    }

    static func start(synced: Bool = true) async throws -> Running {
        let manifests = try DNSTestSupport.richManifests()
        let cluster = ClusterResponder(config: ZoneConfig())
        if synced { cluster.load(try DNSTestSupport.snapshot(of: manifests)) }
        let server = DNSServer(
            configuration: DNSServerConfiguration(host: "127.0.0.1", port: 0, udpSockets: 1), responder: cluster,
            logger: Logger(label: "dig-test"))
        let listeners = try await server.bind()
        return Running(listeners: listeners, port: listeners.udpAddress?.port ?? 0, manifests: manifests)
    }

    static var ready: Bool { DNSTestSupport.which("dig") != nil }

    static let transports = ["+notcp", "+tcp"]

    @Test(.enabled(if: ready, "dig is not installed (Debian bind9-dnsutils)"), arguments: transports)
    func everyRecordForm(transport: String) async throws {
        let server = try await Self.start()
        defer { Task { await server.close() } }
        func dig(_ args: String...) throws -> Dig { try Dig.ask(port: server.port, [transport] + args) }

        let a = try dig("web.demo.svc.cluster.local", "A")
        #expect(a.status == "NOERROR" && a.flags.contains("aa"))
        #expect(a.answers == ["web.demo.svc.cluster.local. 5 IN A 10.96.100.10"])
        #expect(try dig("dual.demo.svc.cluster.local", "AAAA").answers.count == 1)
        #expect(try dig("dual.demo.svc.cluster.local", "A").answers.count == 1)
        #expect(
            try dig("_http._tcp.web.demo.svc.cluster.local", "SRV").answers == [
                "_http._tcp.web.demo.svc.cluster.local. 5 IN SRV 0 100 80 web.demo.svc.cluster.local."
            ])
        #expect(try dig("web.demo.svc.cluster.local", "SRV").answers.count == 1)
        let headless = try dig("db.demo.svc.cluster.local", "A")
        #expect(headless.answers.count == 2, "db-2 is not ready")
        #expect(
            try dig("db-0.db.demo.svc.cluster.local", "A").answers == [
                "db-0.db.demo.svc.cluster.local. 5 IN A 10.244.1.80"
            ])
        let srv = try dig("_postgres._tcp.db.demo.svc.cluster.local", "SRV")
        #expect(srv.answers.count == 2 && srv.additional.count == 2)
        #expect(
            try dig("10-244-1-77.nohost.demo.svc.cluster.local", "A").answers == [
                "10-244-1-77.nohost.demo.svc.cluster.local. 5 IN A 10.244.1.77"
            ])
        #expect(
            try dig("alias.demo.svc.cluster.local", "A").answers == [
                "alias.demo.svc.cluster.local. 5 IN CNAME web.demo.svc.cluster.local.",
                "web.demo.svc.cluster.local. 5 IN A 10.96.100.10",
            ])
        #expect(
            try dig("external.demo.svc.cluster.local", "CNAME").answers == [
                "external.demo.svc.cluster.local. 5 IN CNAME example.net."
            ])
        #expect(
            try dig("-x", "10.96.100.10").answers == ["10.100.96.10.in-addr.arpa. 5 IN PTR web.demo.svc.cluster.local."]
        )
        #expect(try dig("-x", "10.244.1.80").answers.contains { $0.hasSuffix("PTR db-0.db.demo.svc.cluster.local.") })
        #expect(
            try dig("10-244-1-100.demo.pod.cluster.local", "A").answers == [
                "10-244-1-100.demo.pod.cluster.local. 5 IN A 10.244.1.100"
            ])
        #expect(
            try dig("dns-version.cluster.local", "TXT").answers == [#"dns-version.cluster.local. 5 IN TXT "1.1.0""#])
        #expect(try dig("cluster.local", "SOA").answers.count == 1)
    }

    @Test(.enabled(if: ready, "dig is not installed (Debian bind9-dnsutils)"), arguments: transports)
    func everyNegativeForm(transport: String) async throws {
        let server = try await Self.start()
        defer { Task { await server.close() } }
        let soa = "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. 1 7200 1800 86400 5"
        let cases: [(String, String, String)] = [
            ("nope.demo.svc.cluster.local", "A", "NXDOMAIN"),
            ("web.nope.svc.cluster.local", "A", "NXDOMAIN"),
            ("nope.cluster.local", "A", "NXDOMAIN"),
            ("db-2.db.demo.svc.cluster.local", "A", "NXDOMAIN"),
            ("_nope._tcp.web.demo.svc.cluster.local", "SRV", "NXDOMAIN"),
            ("web.demo.svc.cluster.local", "AAAA", "NOERROR"),
            ("web.demo.svc.cluster.local", "TXT", "NOERROR"),
            ("demo.svc.cluster.local", "A", "NOERROR"),
            ("svc.cluster.local", "A", "NOERROR"),
            ("_tcp.web.demo.svc.cluster.local", "A", "NOERROR"),
            ("demo.pod.cluster.local", "A", "NOERROR"),
        ]
        for (name, type, status) in cases {
            let reply = try Dig.ask(port: server.port, [transport, name, type])
            #expect(reply.status == status, "\(name) \(type)")
            #expect(reply.answers.isEmpty, "\(name) \(type)")
            #expect(reply.flags.contains("aa"), "\(name) \(type)")
            #expect(reply.authority == [soa], "\(name) \(type)")
        }
    }

    @Test(.enabled(if: ready, "dig is not installed (Debian bind9-dnsutils)"))
    func caseIsEchoedAndNoRecursionIsFine() async throws {
        let server = try await Self.start()
        defer { Task { await server.close() } }
        let mixed = try Dig.ask(port: server.port, ["WeB.DeMo.SvC.ClUsTeR.LoCaL", "A"])
        #expect(mixed.answers == ["WeB.DeMo.SvC.ClUsTeR.LoCaL. 5 IN A 10.96.100.10"])
        let negative = try Dig.ask(port: server.port, ["NoPe.DEMO.svc.CLUSTER.local", "A"])
        #expect(negative.authority.first?.hasPrefix("CLUSTER.local. 5 IN SOA") == true)
        let norec = try Dig.ask(port: server.port, ["+norec", "web.demo.svc.cluster.local", "A"])
        #expect(norec.status == "NOERROR" && !norec.flags.contains("rd") && norec.flags.contains("aa"))
        #expect(norec.answers.count == 1)
    }

    @Test(.enabled(if: ready, "dig is not installed (Debian bind9-dnsutils)"))
    func largeHeadlessAnswerTruncatesOverUDPAndIsWholeOverTCP() async throws {
        let server = try await Self.start()
        defer { Task { await server.close() } }
        let udp = try Dig.ask(port: server.port, ["+bufsize=512", "+ignore", "big.demo.svc.cluster.local", "A"])
        #expect(udp.flags.contains("tc"))
        #expect(udp.answers.count < 100)
        let noEDNS = try Dig.ask(port: server.port, ["+noedns", "+ignore", "big.demo.svc.cluster.local", "A"])
        #expect(noEDNS.flags.contains("tc"))
        let tcp = try Dig.ask(port: server.port, ["+tcp", "big.demo.svc.cluster.local", "A"])
        #expect(!tcp.flags.contains("tc"))
        #expect(tcp.answers.count == 100)
        // dig's default retries over TCP on TC and gets them all too.
        #expect(
            try Dig.ask(port: server.port, ["+bufsize=512", "big.demo.svc.cluster.local", "A"]).answers.count == 100)
    }

    @Test(.enabled(if: ready, "dig is not installed (Debian bind9-dnsutils)"))
    func servfailBeforeTheFirstSync() async throws {
        let server = try await Self.start(synced: false)
        defer { Task { await server.close() } }
        #expect(try Dig.ask(port: server.port, ["web.demo.svc.cluster.local", "A"]).status == "SERVFAIL")
        #expect(try Dig.ask(port: server.port, ["+tcp", "nope.cluster.local", "A"]).status == "SERVFAIL")
    }

    /// The `kproxy dns` command itself, on the demo cluster.
    @Test(.enabled(if: ready && DNSTestSupport.kproxyBinary != nil, "dig or the kproxy binary is missing"))
    func kproxyDNSCommandServesTheDemoCluster() async throws {
        let binary = try #require(DNSTestSupport.kproxyBinary)
        let port = Int.random(in: 20000...40000)
        let process = try Subprocess([
            binary, "dns", "--manifests", DNSTestSupport.demoCluster, "--listen", "127.0.0.1:\(port)", "--udp-sockets",
            "1", "--resolv-conf", "/dev/null",
        ])
        defer { process.terminate() }
        var reply = Dig(parsing: "")
        for _ in 0..<50 {
            reply = try Dig.ask(port: port, ["web.demo.svc.cluster.local", "A"])
            if reply.status == "NOERROR" { break }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(reply.answers == ["web.demo.svc.cluster.local. 5 IN A 10.96.100.10"])
        #expect(try Dig.ask(port: port, ["+tcp", "db.demo.svc.cluster.local", "A"]).answers.count == 2)
    }
}
