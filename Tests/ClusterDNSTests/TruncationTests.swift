import KubeModel
import Testing

@testable import ClusterDNS

@Suite struct TruncationTests {
    let service = try! DNSName("headless.default.svc.cluster.local")

    func headlessAnswer(endpoints: Int, edns: EDNS?) -> Message {
        var response = Message.query(id: 5, name: service, type: .a, edns: edns).makeResponse()
        response.isAuthoritative = true
        response.answers = (0..<endpoints).map {
            ResourceRecord(name: service, ttl: 5, data: .a(.v4(0x0af4_0000 + UInt32($0))))
        }
        return response
    }

    @Test func anRRsetThatDoesNotFitIsDroppedWholeWithTC() throws {
        let response = headlessAnswer(endpoints: 100, edns: nil)
        let bytes = response.encoded(limit: 512)
        #expect(bytes.count <= 512)
        let decoded = try Message(decoding: bytes)
        #expect(decoded.isTruncated)
        #expect(decoded.answers.isEmpty)
        #expect(decoded.questions == response.questions)
        // Over TCP the whole answer goes out.
        let full = try Message(decoding: response.encoded(limit: Message.tcpLimit))
        #expect(!full.isTruncated && full.answers.count == 100)
    }

    @Test func smallerRRsetsBeforeTheOverflowStay() throws {
        var response = headlessAnswer(endpoints: 60, edns: EDNS(udpPayloadSize: 4096))
        let cname = ResourceRecord(name: try DNSName("alias.default.svc.cluster.local"), ttl: 5, data: .cname(service))
        response.answers.insert(cname, at: 0)
        #expect(response.udpResponseLimit == 1232)
        // 60 A records compress to 16 bytes each: they fit in 1232 but not in 512.
        let roomy = try Message(decoding: response.encoded(limit: response.udpResponseLimit))
        #expect(!roomy.isTruncated && roomy.answers.count == 61)
        let tight = try Message(decoding: response.encoded(limit: 512))
        #expect(tight.isTruncated)
        #expect(tight.answers == [cname])
        #expect(tight.edns != nil)
    }

    @Test func interleavedRRsetIsNotSplit() throws {
        var response = headlessAnswer(endpoints: 0, edns: nil)
        let other = try DNSName("other.default.svc.cluster.local")
        // The A RRset for `service` is split across the section; the overflow falls inside its second half.
        response.answers =
            [ResourceRecord(name: service, ttl: 5, data: .a(.v4(1)))]
            + (0..<10).map { ResourceRecord(name: other, ttl: 5, data: .a(.v4(UInt32($0)))) }
            + (2..<40).map { ResourceRecord(name: service, ttl: 5, data: .a(.v4(UInt32($0)))) }
        let decoded = try Message(decoding: response.encoded(limit: 512))
        #expect(decoded.isTruncated)
        #expect(!decoded.answers.contains { $0.name == service })
        #expect(decoded.answers.count == 10)
    }

    @Test func additionalRecordsAreDroppedWithoutTC() throws {
        var response = headlessAnswer(endpoints: 1, edns: nil)
        response.additionals = (0..<40).map {
            ResourceRecord(name: try! DNSName("ep\($0).example"), ttl: 5, data: .a(.v4(UInt32($0))))
        }
        let decoded = try Message(decoding: response.encoded(limit: 512))
        #expect(!decoded.isTruncated)
        #expect(decoded.answers.count == 1)
        #expect(decoded.additionals.count < 40)
    }

    @Test func clientLimitIsClamped() {
        #expect(Message.query(id: 1, name: .root, type: .ns, edns: nil).udpResponseLimit == 512)
        #expect(Message.query(id: 1, name: .root, type: .ns, edns: EDNS(udpPayloadSize: 100)).udpResponseLimit == 512)
        #expect(Message.query(id: 1, name: .root, type: .ns, edns: EDNS(udpPayloadSize: 1200)).udpResponseLimit == 1200)
        #expect(
            Message.query(id: 1, name: .root, type: .ns, edns: EDNS(udpPayloadSize: 65000)).udpResponseLimit == 1232
        )
    }
}
