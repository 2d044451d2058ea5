import ClusterDNS
import ClusterModel
import KubeModel
import Testing

@Suite("Query engine: the Kubernetes DNS schema and its negative answers")
struct ZoneAnswerTests {
    let zone = ZoneFixture.index()

    @Test func dnsVersionIsATXTRecord() throws {
        let reply = try #require(zone.ask("dns-version.cluster.local", .txt))
        #expect(reply.answerLines == [#"dns-version.cluster.local. TXT "1.1.0""#])
        #expect(reply.isAuthoritative && reply.rcode == .noError)
    }

    @Test func clusterIPServiceHasAAndNoAAAA() throws {
        let a = try #require(zone.ask("web.demo.svc.cluster.local", .a))
        #expect(a.answerLines == ["web.demo.svc.cluster.local. A 10.96.100.10"])
        #expect(a.answers.allSatisfy { $0.ttl == 5 })
        let aaaa = try #require(zone.ask("web.demo.svc.cluster.local", .aaaa))
        #expect(aaaa.rcode == .noError && aaaa.answers.isEmpty, "existing name without AAAA is NODATA")
        #expect(
            aaaa.authorities.map(\.line) == ["cluster.local. SOA ns.dns.cluster.local. hostmaster.cluster.local. 5"])
    }

    @Test func dualStackServiceAnswersBothFamilies() throws {
        #expect(
            try #require(zone.ask("dual.demo.svc.cluster.local", .a)).answerLines == [
                "dual.demo.svc.cluster.local. A 10.96.50.50"
            ])
        #expect(
            try #require(zone.ask("dual.demo.svc.cluster.local", .aaaa)).answerLines == [
                "dual.demo.svc.cluster.local. AAAA fd00:10:96::50"
            ])
    }

    @Test func srvForNamedPortsAndTheBareName() throws {
        let named = try #require(zone.ask("_http._tcp.web.demo.svc.cluster.local", .srv))
        #expect(
            named.answerLines == ["_http._tcp.web.demo.svc.cluster.local. SRV 0 100 80 web.demo.svc.cluster.local."])
        #expect(named.additionalLines == ["web.demo.svc.cluster.local. A 10.96.100.10"])
        let bare = try #require(zone.ask("web.demo.svc.cluster.local", .srv))
        #expect(
            bare.answerLines == [
                "web.demo.svc.cluster.local. SRV 0 100 80 web.demo.svc.cluster.local.",
                "web.demo.svc.cluster.local. SRV 0 100 8443 web.demo.svc.cluster.local.",
            ])
        // UDP port names live under _udp, not _tcp.
        #expect(try #require(zone.ask("_dns._udp.dual.demo.svc.cluster.local", .srv)).answers.count == 1)
        #expect(try #require(zone.ask("_dns._tcp.dual.demo.svc.cluster.local", .srv)).rcode == .nameError)
    }

    @Test func srvParentIsAnEmptyNonTerminal() throws {
        let ent = try #require(zone.ask("_tcp.web.demo.svc.cluster.local", .a))
        #expect(ent.rcode == .noError && ent.answers.isEmpty)
        #expect(try #require(zone.ask("_nope._tcp.web.demo.svc.cluster.local", .srv)).rcode == .nameError)
    }

    @Test func headlessServiceAnswersReadyEndpointsAndHostnames() throws {
        let a = try #require(zone.ask("db.demo.svc.cluster.local", .a))
        #expect(
            a.answerLines == ["db.demo.svc.cluster.local. A 10.244.1.30", "db.demo.svc.cluster.local. A 10.244.2.30"])
        #expect(
            try #require(zone.ask("db-0.db.demo.svc.cluster.local", .a)).answerLines == [
                "db-0.db.demo.svc.cluster.local. A 10.244.1.30"
            ])
        #expect(try #require(zone.ask("db-2.db.demo.svc.cluster.local", .a)).rcode == .nameError, "db-2 is not ready")
        let srv = try #require(zone.ask("_postgres._tcp.db.demo.svc.cluster.local", .srv))
        #expect(
            srv.answerLines == [
                "_postgres._tcp.db.demo.svc.cluster.local. SRV 0 50 5432 db-0.db.demo.svc.cluster.local.",
                "_postgres._tcp.db.demo.svc.cluster.local. SRV 0 50 5432 db-1.db.demo.svc.cluster.local.",
            ])
        #expect(
            srv.additionalLines == [
                "db-0.db.demo.svc.cluster.local. A 10.244.1.30", "db-1.db.demo.svc.cluster.local. A 10.244.2.30",
            ])
        #expect(
            try #require(zone.ask("30.1.244.10.in-addr.arpa", .ptr)).answerLines == [
                "30.1.244.10.in-addr.arpa. PTR db-0.db.demo.svc.cluster.local."
            ])
    }

    @Test func endpointsWithoutHostnameAreNamedByDashedAddress() throws {
        #expect(
            try #require(zone.ask("10-244-1-20.nohost.demo.svc.cluster.local", .a)).answerLines == [
                "10-244-1-20.nohost.demo.svc.cluster.local. A 10.244.1.20"
            ])
        #expect(
            try #require(zone.ask("fd00-10-244-1--20.nohost.demo.svc.cluster.local", .aaaa)).answerLines == [
                "fd00-10-244-1--20.nohost.demo.svc.cluster.local. AAAA fd00:10:244:1::20"
            ])
        #expect(
            try #require(zone.ask("nohost.demo.svc.cluster.local", .aaaa)).answerLines == [
                "nohost.demo.svc.cluster.local. AAAA fd00:10:244:1::20"
            ])
        // Endpoint names work under ClusterIP Services too, as CoreDNS answers them.
        #expect(try #require(zone.ask("10-244-1-10.web.demo.svc.cluster.local", .a)).answers.count == 1)
        #expect(try #require(zone.ask("10-244-1-11.web.demo.svc.cluster.local", .a)).rcode == .nameError)
    }

    @Test func headlessWithoutReadyEndpointsIsNXDOMAINUnlessPublished() throws {
        #expect(try #require(zone.ask("unready.demo.svc.cluster.local", .a)).rcode == .nameError)
        #expect(try #require(zone.ask("unready.demo.svc.cluster.local", .aaaa)).rcode == .nameError)
        #expect(
            try #require(zone.ask("published.demo.svc.cluster.local", .a)).answerLines == [
                "published.demo.svc.cluster.local. A 10.244.1.41"
            ])
    }

    @Test func externalNameIsACNAMEAndOutOfZoneTargetsAreChased() throws {
        let cname = try #require(zone.ask("external.demo.svc.cluster.local", .cname))
        #expect(cname.answerLines == ["external.demo.svc.cluster.local. CNAME example.net."])
        guard
            case .resolve(let continuation) = zone.answer(
                .query(id: 1, name: n("external.demo.svc.cluster.local"), type: .a))
        else {
            Issue.record("an A query for an ExternalName should chase the target upstream")
            return
        }
        #expect(continuation.candidates == [n("example.net")])
        let inZone = try #require(zone.ask("alias.demo.svc.cluster.local", .a))
        #expect(
            inZone.answerLines == [
                "alias.demo.svc.cluster.local. CNAME web.demo.svc.cluster.local.",
                "web.demo.svc.cluster.local. A 10.96.100.10",
            ])
    }

    @Test func externalNameChaseAppendsTheUpstreamAnswer() async throws {
        guard
            case .resolve(let continuation) = zone.answer(
                .query(id: 1, name: n("external.demo.svc.cluster.local"), type: .a))
        else { throw ChaseError.notChased }
        let found = await zone.finish(continuation) { name, type in
            var reply = Message.query(id: 1, name: name, type: type).makeResponse()
            reply.answers = [ResourceRecord(name: name, ttl: 60, data: .a(IPAddress("192.0.2.7")!))]
            return reply
        }
        #expect(
            found.answerLines == ["external.demo.svc.cluster.local. CNAME example.net.", "example.net. A 192.0.2.7"])
        let failed = await zone.finish(continuation) { _, _ in nil }
        #expect(failed.answerLines == ["external.demo.svc.cluster.local. CNAME example.net."])
    }

    enum ChaseError: Error { case notChased }

    @Test func ptrForClusterIPsOfBothFamiliesAndFallThroughForOthers() throws {
        #expect(
            try #require(zone.ask("10.100.96.10.in-addr.arpa", .ptr)).answerLines == [
                "10.100.96.10.in-addr.arpa. PTR web.demo.svc.cluster.local."
            ])
        let v6 = "0.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.6.9.0.0.0.1.0.0.0.0.d.f.ip6.arpa"
        #expect(try #require(zone.ask(v6, .ptr)).answerLines == ["\(v6). PTR dual.demo.svc.cluster.local."])
        let nodata = try #require(zone.ask("10.100.96.10.in-addr.arpa", .a))
        #expect(nodata.answers.isEmpty && nodata.authorities.first?.name == n("in-addr.arpa"))
        guard case .notInZone = zone.answer(.query(id: 1, name: n("8.8.8.8.in-addr.arpa"), type: .ptr)) else {
            Issue.record("unknown reverse names go upstream")
            return
        }
    }

    @Test func podRecordsInsecureVerifiedAndDisabled() throws {
        #expect(
            try #require(zone.ask("10-244-9-9.demo.pod.cluster.local", .a)).answerLines == [
                "10-244-9-9.demo.pod.cluster.local. A 10.244.9.9"
            ])
        #expect(try #require(zone.ask("10-244-9-9.demo.pod.cluster.local", .aaaa)).rcode == .noError)
        #expect(try #require(zone.ask("fd00-10-244-1--50.demo.pod.cluster.local", .aaaa)).answers.count == 1)
        #expect(try #require(zone.ask("10-244-9-9.nowhere.pod.cluster.local", .a)).rcode == .nameError)
        #expect(try #require(zone.ask("not-an-ip.demo.pod.cluster.local", .a)).rcode == .nameError)
        #expect(try #require(zone.ask("10-244-1-60.podsonly.pod.cluster.local", .a)).answers.count == 1)
        #expect(try #require(zone.ask("demo.pod.cluster.local", .a)).rcode == .noError, "a namespace is an ENT")
        #expect(try #require(zone.ask("x.10-244-9-9.demo.pod.cluster.local", .a)).rcode == .nameError)

        let verified = ZoneFixture.index(ZoneConfig(podRecords: .verified))
        #expect(try #require(verified.ask("10-244-1-50.demo.pod.cluster.local", .a)).answers.count == 1)
        #expect(try #require(verified.ask("10-244-9-9.demo.pod.cluster.local", .a)).rcode == .nameError)
        #expect(try #require(verified.ask("10-244-1-50.podsonly.pod.cluster.local", .a)).rcode == .nameError)
        #expect(try #require(verified.ask("10-0-0-11.kube-system.pod.cluster.local", .a)).rcode == .nameError)

        let disabled = ZoneFixture.index(ZoneConfig(podRecords: .disabled))
        #expect(try #require(disabled.ask("10-244-1-50.demo.pod.cluster.local", .a)).rcode == .nameError)
        #expect(try #require(disabled.ask("demo.pod.cluster.local", .a)).rcode == .nameError)
        #expect(try #require(disabled.ask("pod.cluster.local", .a)).rcode == .noError)
    }

    @Test(arguments: [
        ("cluster.local", RecordType.a, ResponseCode.noError),
        ("svc.cluster.local", .a, .noError),
        ("pod.cluster.local", .aaaa, .noError),
        ("demo.svc.cluster.local", .a, .noError),
        ("podsonly.svc.cluster.local", .a, .noError),
        ("nope.svc.cluster.local", .a, .nameError),
        ("nope.demo.svc.cluster.local", .a, .nameError),
        ("web.nope.svc.cluster.local", .a, .nameError),
        ("something.cluster.local", .a, .nameError),
        ("web.demo.svc.cluster.local", .txt, .noError),
        ("web.demo.svc.cluster.local", .ptr, .noError),
        ("a.b.c.web.demo.svc.cluster.local", .a, .nameError),
    ])
    func negativeAnswersAreExact(name: String, type: RecordType, rcode: ResponseCode) throws {
        let reply = try #require(zone.ask(name, type))
        #expect(reply.rcode == rcode)
        #expect(reply.answers.isEmpty)
        #expect(reply.isAuthoritative)
        #expect(reply.authorities.map(\.type) == [.soa])
        #expect(reply.authorities.first?.ttl == 5)
    }

    @Test func apexAnswersItsSOA() throws {
        let reply = try #require(zone.ask("cluster.local", .soa))
        #expect(reply.answers.map(\.type) == [.soa])
    }

    @Test func answersEchoTheQueryCase() throws {
        let asked = n("WeB.DeMo.SVC.Cluster.LOCAL")
        let reply = try #require(zone.ask(asked, .a))
        #expect(reply.answers.count == 1)
        #expect(reply.answers[0].name.isIdentical(to: asked))
        #expect(reply.questions[0].name.isIdentical(to: asked))
        let negative = try #require(zone.ask("NoPe.Demo.Svc.CLUSTER.local", .a))
        #expect(negative.authorities[0].name.isIdentical(to: n("CLUSTER.local")))
    }

    @Test func ttlIsConfigurable() throws {
        let zone = ZoneFixture.index(ZoneConfig(ttl: 30))
        #expect(try #require(zone.ask("web.demo.svc.cluster.local", .a)).answers[0].ttl == 30)
        let negative = try #require(zone.ask("nope.demo.svc.cluster.local", .a))
        guard case .soa(let soa) = negative.authorities[0].data else { throw ChaseError.notChased }
        #expect(negative.authorities[0].ttl == 30 && soa.minimum == 30)
    }

    @Test func otherZonesAreNotAnswered() {
        guard case .notInZone = zone.answer(.query(id: 1, name: n("example.com"), type: .a)) else {
            Issue.record("names outside the zone go to the next responder")
            return
        }
    }

    @Test func zoneTransfersAreRefused() throws {
        #expect(try #require(zone.ask("cluster.local", .axfr)).rcode == .refused)
    }

    @Test func customZone() throws {
        let zone = ZoneFixture.index(ZoneConfig(zone: n("k8s.example")))
        #expect(try #require(zone.ask("web.demo.svc.k8s.example", .a)).answers.count == 1)
        guard case .notInZone = zone.answer(.query(id: 1, name: n("web.demo.svc.cluster.local"), type: .a)) else {
            Issue.record("the default zone is not served under a custom one")
            return
        }
    }
}
