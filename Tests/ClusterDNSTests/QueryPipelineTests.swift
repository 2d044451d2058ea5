import KubeModel
import Testing

@testable import ClusterDNS

@Suite struct QueryPipelineTests {
    /// Answers names under `cluster.local` at once, and nothing else.
    struct ZoneResponder: DNSResponder {
        func respondImmediately(
            to query: Message,
            from client: IPAddress,
            transport: Transport
        )
            -> ImmediateResponse
        {
            guard query.questions[0].name.isSubdomain(of: try! DNSName("cluster.local")) else { return .answered(nil) }
            var reply = query.makeResponse()
            reply.isAuthoritative = true
            reply.answers = [ResourceRecord(name: query.questions[0].name, ttl: 5, data: .a(.v4(0x0a60_000a)))]
            return .answered(reply)
        }

        func respond(to query: Message, from client: IPAddress, transport: Transport) async -> Message? {
            guard case .answered(let reply) = respondImmediately(to: query, from: client, transport: transport) else {
                return nil
            }
            return reply
        }
    }

    /// Stands in for the forwarder: always needs to suspend.
    struct UpstreamResponder: DNSResponder {
        func respond(to query: Message, from client: IPAddress, transport: Transport) async -> Message? {
            var reply = query.makeResponse()
            reply.recursionAvailable = true
            reply.answers = [ResourceRecord(name: query.questions[0].name, ttl: 60, data: .a(.v4(0xc000_0235)))]
            return reply
        }
    }

    let pipeline = QueryPipeline(responder: ChainResponder(ZoneResponder(), then: UpstreamResponder()))
    let client = IPAddress("10.244.1.5")!

    @Test func clusterNamesAreAnsweredWithoutSuspending() throws {
        let query = Message.query(id: 42, name: try DNSName("Web.Default.svc.cluster.local"), type: .a)
        guard
            case .reply(let bytes?) = pipeline.answerImmediately(packet: query.encoded(), from: client, transport: .udp)
        else {
            Issue.record("expected an immediate reply")
            return
        }
        let reply = try Message(decoding: bytes)
        #expect(reply.id == 42 && reply.isAuthoritative && reply.answers.count == 1)
        #expect(reply.questions[0].name.description == "Web.Default.svc.cluster.local.")
        #expect(reply.edns?.udpPayloadSize == 1232)
    }

    @Test func otherNamesFallThroughToTheSecondResponder() async throws {
        let query = Message.query(id: 43, name: try DNSName("www.example.net"), type: .a, edns: nil)
        guard
            case .needsResponder(let pending) = pipeline.answerImmediately(
                packet: query.encoded(),
                from: client,
                transport: .udp
            )
        else {
            Issue.record("expected to need the upstream responder")
            return
        }
        let reply = try Message(decoding: try #require(await pipeline.complete(pending)))
        #expect(reply.id == 43 && reply.recursionAvailable && reply.edns == nil)
        #expect(reply.answers.first?.data == .a(IPAddress("192.0.2.53")!))
    }

    @Test func aFinalNilIsRefused() async throws {
        let pipeline = QueryPipeline(responder: ZoneResponder())
        let query = Message.query(id: 44, name: try DNSName("www.example.net"), type: .a)
        let bytes = try #require(await pipeline.answer(packet: query.encoded(), from: client, transport: .udp))
        #expect(try Message(decoding: bytes).rcode == .refused)
    }
}
