import KubeModel
import Testing

@testable import ClusterDNS

/// Packets an attacker or a broken client may send. Decoding must end quickly with a value or an error,
/// never trap or loop, and a query that cannot be read gets FORMERR when its header can.
@Suite struct HostilePacketTests {
    /// Answers everything with NOERROR, so the tests see the pipeline's own validation.
    struct EchoResponder: DNSResponder {
        func respond(to query: Message, from client: IPAddress, transport: Transport) async -> Message? {
            query.makeResponse()
        }
    }

    let pipeline = QueryPipeline(responder: EchoResponder())
    let client = IPAddress("127.0.0.1")!

    static func header(id: UInt16 = 0x1234, flags: UInt16 = 0x0100, counts: [UInt16]) -> [UInt8] {
        var bytes: [UInt8] = [UInt8(id >> 8), UInt8(id & 0xff), UInt8(flags >> 8), UInt8(flags & 0xff)]
        for count in counts { bytes += [UInt8(count >> 8), UInt8(count & 0xff)] }
        return bytes
    }

    func reply(to packet: [UInt8]) async throws -> Message {
        let bytes = try #require(await pipeline.answer(packet: packet, from: client, transport: .udp))
        return try Message(decoding: bytes)
    }

    @Test func selfPointerIsRejected() async throws {
        // Question name is a pointer to itself (offset 12).
        let packet = Self.header(counts: [1, 0, 0, 0]) + [0xc0, 12, 0, 1, 0, 1]
        #expect(throws: DNSWireError.badPointer(offset: 12)) { try Message(decoding: packet) }
        let formerr = try await reply(to: packet)
        #expect(formerr.rcode == .formatError && formerr.id == 0x1234 && formerr.isResponse)
    }

    @Test func pointerLoopAndForwardPointerAreRejected() throws {
        // Answer owner points back to a label that ends in a pointer to the answer owner: a two-step loop.
        let question: [UInt8] = [1, UInt8(ascii: "a"), 0xc0, 19, 0, 1, 0, 1]  // label "a" then pointer to 19
        let answer: [UInt8] = [0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 1, 2, 3, 4]
        let loop = Self.header(counts: [1, 1, 0, 0]) + question + answer
        #expect(throws: DNSWireError.self) { try Message(decoding: loop) }
        let forward = Self.header(counts: [1, 0, 0, 0]) + [0xc0, 20, 0, 1, 0, 1, 0, 0, 1, 0x61, 0]
        #expect(throws: DNSWireError.badPointer(offset: 12)) { try Message(decoding: forward) }
    }

    @Test func lyingCountsAreFormErr() async throws {
        let valid = Message.query(id: 9, name: try DNSName("example.com"), type: .a, edns: nil).encoded()
        for index in 4..<12 where index % 2 == 1 {
            var packet = valid
            packet[index] = 0xff
            packet[index - 1] = 0xff
            #expect(throws: DNSWireError.self) { try Message(decoding: packet) }
            #expect(try await reply(to: packet).rcode == .formatError)
        }
    }

    @Test func hugeLabelsAndNamesAreRejected() throws {
        // A 64 KB packet of 63-byte labels with no terminator: a name longer than 255 bytes.
        var labels: [UInt8] = []
        while labels.count < 65_000 { labels += [63] + Array(repeating: UInt8(ascii: "x"), count: 63) }
        let packet = Self.header(counts: [1, 0, 0, 0]) + labels
        #expect(throws: DNSWireError.nameTooLong(offset: 12)) { try Message(decoding: packet) }
        // Label length bytes 0x40 and 0x80 are the retired extended label types.
        #expect(throws: DNSWireError.badLabelType(offset: 12)) {
            try Message(decoding: Self.header(counts: [1, 0, 0, 0]) + [0x40, 0, 0, 1, 0, 1])
        }
        // Each answer's owner is a 63-byte label plus a pointer to the previous owner: every hop is legal,
        // but the fourth name is 257 bytes long.
        var chain = Self.header(counts: [0, 5, 0, 0])
        var previous: Int? = nil
        for _ in 0..<5 {
            let here = chain.count
            chain += [63] + Array(repeating: UInt8(ascii: "z"), count: 63)
            chain += previous.map { [0xc0 | UInt8($0 >> 8), UInt8($0 & 0xff)] } ?? [0]
            chain += [0, 1, 0, 1, 0, 0, 0, 5, 0, 4, 10, 0, 0, 1]
            previous = here
        }
        #expect(throws: DNSWireError.self) { try Message(decoding: chain) }
    }

    @Test func rdataLengthsThatLieAreRejected() throws {
        var response = Message.query(id: 1, name: try DNSName("a.example"), type: .a, edns: nil).makeResponse()
        response.answers = [ResourceRecord(name: try DNSName("a.example"), ttl: 5, data: .a(IPAddress("192.0.2.1")!))]
        var bytes = response.encoded()
        // RDLENGTH is the 2 bytes before the 4 address bytes at the end.
        bytes[bytes.count - 5] = 200
        #expect(throws: DNSWireError.self) { try Message(decoding: bytes) }
        bytes[bytes.count - 5] = 3
        #expect(throws: DNSWireError.self) { try Message(decoding: bytes) }
    }

    @Test func misplacedOrRepeatedOPTIsFormErr() async throws {
        let opt: [UInt8] = [0, 0, 41, 4, 0xd0, 0, 0, 0, 0, 0, 0]
        let question: [UInt8] = [1, 0x61, 0, 0, 1, 0, 1]
        let twice = Self.header(counts: [1, 0, 0, 2]) + question + opt + opt
        #expect(throws: DNSWireError.badOPT(offset: 12 + 7 + 11)) { try Message(decoding: twice) }
        #expect(try await reply(to: twice).rcode == .formatError)
        let inAnswer = Self.header(counts: [1, 1, 0, 0]) + question + opt
        #expect(throws: DNSWireError.self) { try Message(decoding: inAnswer) }
    }

    @Test func semanticallyBadQueriesGetTheRightRcode() async throws {
        let name = try DNSName("example.com")
        var two = Message.query(id: 3, name: name, type: .a)
        two.questions.append(two.questions[0])
        #expect(try await reply(to: two.encoded()).rcode == .formatError)
        var none = two
        none.questions = []
        #expect(try await reply(to: none.encoded()).rcode == .formatError)
        var notify = Message.query(id: 3, name: name, type: .soa)
        notify.opcode = .notify
        #expect(try await reply(to: notify.encoded()).rcode == .notImplemented)
        let badVersion = Message.query(id: 3, name: name, type: .a, edns: EDNS(version: 1))
        let answer = try await reply(to: badVersion.encoded())
        #expect(answer.rcode == .badVersion && answer.edns?.version == 0)
        #expect(try await reply(to: Message.query(id: 3, name: name, type: .axfr).encoded()).rcode == .refused)
        // Responses and runts get no answer at all.
        var response = Message.query(id: 3, name: name, type: .a)
        response.isResponse = true
        #expect(await pipeline.answer(packet: response.encoded(), from: client, transport: .udp) == nil)
        #expect(await pipeline.answer(packet: [1, 2, 3], from: client, transport: .udp) == nil)
    }

    /// Random packets, valid packets cut short, and valid packets with random bytes flipped.
    @Test func fuzzNeverTrapsOrHangs() async throws {
        var generator = SplitMix64(seed: 0x6b70_726f_7879)
        var response = Message.query(id: 1, name: try DNSName("web.default.svc.cluster.local"), type: .srv)
            .makeResponse()
        response.answers = (0..<20).map {
            ResourceRecord(
                name: try! DNSName("web.default.svc.cluster.local"),
                ttl: 5,
                data: .srv(
                    SRV(priority: 0, weight: 5, port: 80, target: try! DNSName("ep\($0).web.default.svc.cluster.local"))
                )
            )
        }
        response.authorities = [
            ResourceRecord(
                name: try DNSName("cluster.local"),
                ttl: 5,
                data: .soa(
                    SOA(
                        primary: try DNSName("ns.dns.cluster.local"),
                        mailbox: try DNSName("hostmaster.cluster.local"),
                        serial: 1,
                        refresh: 2,
                        retry: 3,
                        expire: 4,
                        minimum: 5
                    )
                )
            )
        ]
        response.additionals = [
            ResourceRecord(
                name: try DNSName("mail.example"),
                ttl: 1,
                data: .mx(preference: 1, exchange: try DNSName("cluster.local"))
            )
        ]
        let seed = response.encoded()
        let start = ContinuousClock.now
        do {
            for round in 0..<10_000 {
                var packet: [UInt8]
                switch round % 3 {
                case 0:
                    packet = (0..<Int(generator.next() % 600)).map { _ in UInt8(truncatingIfNeeded: generator.next()) }
                case 1:
                    packet = Array(seed.prefix(Int(generator.next() % UInt64(seed.count))))
                default:
                    packet = seed
                    for _ in 0..<(1 + generator.next() % 8) {
                        let index = Int(generator.next() % UInt64(packet.count))
                        packet[index] = UInt8(truncatingIfNeeded: generator.next())
                    }
                }
                if let message = try? Message(decoding: packet) {
                    // Whatever decodes must re-encode and decode to the same message.
                    #expect((try? Message(decoding: message.encoded())) == message)
                    _ = message.encoded(limit: 512)
                }
                if packet.count >= 12 {
                    packet[2] &= 0x7f  // make it a query so the pipeline answers
                    let answer = await pipeline.answer(packet: packet, from: client, transport: .udp)
                    #expect(answer != nil)
                }
            }
        }
        #expect(ContinuousClock.now - start < .seconds(30))
    }
}

/// A small deterministic generator so a failing fuzz round can be reproduced.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9e37_79b9_7f4a_7c15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
