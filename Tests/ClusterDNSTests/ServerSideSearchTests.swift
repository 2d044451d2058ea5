import ClusterDNS
import ClusterModel
import KubeModel
import Testing

@Suite("Server-side search: walking a known pod's search list on the server")
struct ServerSideSearchTests {
    let zone = ZoneFixture.index()

    @Test func existingNamesAreAnsweredDirectly() throws {
        let reply = try #require(zone.ask("web.demo.svc.cluster.local", .a, from: "demo"))
        #expect(reply.answerLines == ["web.demo.svc.cluster.local. A 10.96.100.10"])
    }

    @Test func anotherNamespacesServiceIsFoundOnTheSecondSuffix() throws {
        // `getent ahosts web.other` from a pod in demo first asks web.other.demo.svc.cluster.local.
        let reply = try #require(zone.ask("web.other.demo.svc.cluster.local", .a, from: "demo"))
        #expect(
            reply.answerLines == [
                "web.other.demo.svc.cluster.local. CNAME web.other.svc.cluster.local.",
                "web.other.svc.cluster.local. A 10.96.200.10",
            ])
        #expect(reply.questions[0].name == n("web.other.demo.svc.cluster.local"))
        // The AAAA twin stops at the same name: NOERROR with the CNAME, so musl does not walk on.
        let aaaa = try #require(zone.ask("web.other.demo.svc.cluster.local", .aaaa, from: "demo"))
        #expect(aaaa.rcode == .noError)
        #expect(aaaa.answerLines == ["web.other.demo.svc.cluster.local. CNAME web.other.svc.cluster.local."])
    }

    @Test func queryCaseIsKeptInTheAlias() throws {
        let asked = n("WEB.Other.demo.svc.cluster.local")
        let reply = try #require(zone.ask(asked, .a, from: "demo"))
        #expect(reply.answers[0].name.isIdentical(to: asked))
        guard case .cname(let target) = reply.answers[0].data else {
            Issue.record("expected a CNAME first")
            return
        }
        #expect(target.isIdentical(to: n("WEB.Other.svc.cluster.local")))
    }

    @Test func unknownClientsAndOtherNamespacesGetThePlainAnswer() throws {
        #expect(try #require(zone.ask("web.other.demo.svc.cluster.local", .a)).rcode == .nameError)
        // A query that is not an expansion of the client's own first suffix is not searched.
        #expect(try #require(zone.ask("web.other.demo.svc.cluster.local", .a, from: "other")).rcode == .nameError)
        let off = ZoneFixture.index(ZoneConfig(serverSideSearch: false))
        #expect(try #require(off.ask("web.other.demo.svc.cluster.local", .a, from: "demo")).rcode == .nameError)
    }

    @Test func externalNamesAreWalkedToTheUpstream() async throws {
        let asked = n("example.net.demo.svc.cluster.local")
        guard
            case .resolve(let continuation) = zone.answer(.query(id: 9, name: asked, type: .a), clientNamespace: "demo")
        else {
            Issue.record("the walk must reach the as-is candidate upstream")
            return
        }
        #expect(continuation.candidates == [n("example.net")])
        var asks: [DNSName] = []
        let reply = await zone.finish(continuation) { name, type in
            asks.append(name)
            var reply = Message.query(id: 9, name: name, type: type).makeResponse()
            reply.answers = [ResourceRecord(name: name, ttl: 60, data: .a(IPAddress("192.0.2.1")!))]
            return reply
        }
        #expect(asks == [n("example.net")])
        #expect(
            reply.answerLines == [
                "example.net.demo.svc.cluster.local. CNAME example.net.", "example.net. A 192.0.2.1",
            ])
        #expect(reply.rcode == .noError)

        let missing = await zone.finish(continuation) { name, type in
            Message.query(id: 9, name: name, type: type).makeResponse(rcode: .nameError)
        }
        #expect(missing.rcode == .nameError && missing.answers.isEmpty, "nothing exists: the plain NXDOMAIN")
        #expect(missing.questions[0].name == asked)
    }

    @Test func hostSearchDomainsComeBeforeTheNameItself() async throws {
        let zone = ZoneFixture.index(ZoneConfig(hostSearch: [n("corp.example")]))
        guard
            case .resolve(let continuation) = zone.answer(
                .query(id: 9, name: n("api.demo.svc.cluster.local"), type: .a), clientNamespace: "demo")
        else {
            Issue.record("expected an upstream walk")
            return
        }
        #expect(continuation.candidates == [n("api.corp.example"), n("api")])
    }

    @Test func serverWalkMatchesWhatGlibcWouldHaveFound() throws {
        // The client's own walk over the zone, replayed with SearchPlan, must end at the name the server chose.
        let conf = ResolvConf.pod(namespace: "demo", zone: "cluster.local", nameserver: IPAddress("10.96.0.10")!)
        let plan = SearchPlan(name: "web.other", conf: conf)
        let steps = plan.walk { candidate in
            plan.queryTypes.map { type in
                guard let reply = zone.ask(candidate.name, RecordType(rawValue: type)) else {
                    return .timeout
                }
                return SearchPlan.Response(rcode: UInt8(reply.rcode.rawValue), answers: reply.answers.count)
            }
        }
        #expect(steps.last?.verdict == .found)
        #expect(steps.last?.candidate.name == "web.other.svc.cluster.local.")
        let server = try #require(zone.ask("web.other.demo.svc.cluster.local", .a, from: "demo"))
        #expect(server.answers.last?.name == n("web.other.svc.cluster.local"))
    }
}

@Suite("Cluster responder: the zone in front of an upstream, clients known by address")
struct ClusterResponderTests {
    /// An upstream that knows only `example.net` and records what it was asked.
    final class Upstream: DNSResponder, @unchecked Sendable {
        var asked: [String] = []

        func respond(to query: Message, from client: IPAddress, transport: Transport) async -> Message? {
            guard let question = query.question else { return nil }
            asked.append(question.name.description)
            guard question.name == n("example.net") else { return query.makeResponse(rcode: .nameError) }
            var reply = query.makeResponse()
            if question.type == .a {
                reply.answers = [ResourceRecord(name: question.name, ttl: 60, data: .a(IPAddress("192.0.2.80")!))]
            }
            return reply
        }
    }

    static func responder(_ upstream: Upstream) -> ClusterResponder {
        let responder = ClusterResponder(config: ZoneConfig(), upstream: upstream)
        responder.load(ZoneFixture.state().snapshot)
        return responder
    }

    @Test func knownPodGetsTheServerSideWalk() async throws {
        let upstream = Upstream()
        let responder = Self.responder(upstream)
        let pod = IPAddress("10.244.1.50")!
        let query = Message.query(id: 4, name: n("example.net.demo.svc.cluster.local"), type: .a)
        guard case .needsSuspension = responder.respondImmediately(to: query, from: pod, transport: .udp) else {
            Issue.record("an answer that needs upstream cannot be given on the event loop")
            return
        }
        let reply = try #require(await responder.respond(to: query, from: pod, transport: .udp))
        #expect(
            reply.answerLines == [
                "example.net.demo.svc.cluster.local. CNAME example.net.", "example.net. A 192.0.2.80",
            ])
        #expect(upstream.asked == ["example.net."])
    }

    @Test func unknownClientsAndHostNetworkPodsAreNotSearched() async throws {
        let upstream = Upstream()
        let responder = Self.responder(upstream)
        let query = Message.query(id: 4, name: n("example.net.demo.svc.cluster.local"), type: .a)
        for client in ["10.9.9.9", "10.0.0.11"] {
            guard
                case .answered(let reply?) = responder.respondImmediately(
                    to: query, from: IPAddress(client)!, transport: .udp)
            else {
                Issue.record("a plain NXDOMAIN is answered at once")
                return
            }
            #expect(reply.rcode == .nameError, "client \(client)")
        }
        #expect(upstream.asked.isEmpty)
    }

    @Test func namesOutsideTheZoneGoUpstream() async throws {
        let upstream = Upstream()
        let responder = Self.responder(upstream)
        let reply = await responder.respond(
            to: .query(id: 4, name: n("example.net"), type: .a), from: IPAddress("127.0.0.1")!, transport: .udp)
        #expect(reply?.answers.count == 1)
        #expect(upstream.asked == ["example.net."])
    }
}
