import KubeModel
import Testing

@testable import ClusterDNS

/// Test shorthand for names known to be valid.
func name(_ text: String) -> DNSName {
    do { return try DNSName(text) } catch { fatalError("bad test name \(text)") }
}

@Suite struct MessageCodecTests {
    static func hex(_ text: String) -> [UInt8] {
        var bytes: [UInt8] = []
        var index = text.startIndex
        while index < text.endIndex {
            let next = text.index(index, offsetBy: 2)
            bytes.append(UInt8(text[index..<next], radix: 16)!)
            index = next
        }
        return bytes
    }

    /// Captured from `dig @127.0.0.1 -p 5399 WwW.Example.NET A +cookie=0011223344556677` (dig 9.18).
    static let digQuery = hex(
        "e6240120000100000000000103577757074578616d706c65034e4554000001000100002904d000000000000c000a0008"
            + "0011223344556677"
    )
    /// dnsmasq 2.90's answer to it with `--address=/example.net/192.0.2.53`; the owner is a pointer to the
    /// question.
    static let dnsmasqAnswer = hex(
        "e6248580000100010000000103577757074578616d706c65034e45540000010001c00c00010001000000000004c0000235"
            + "00002904d0000000000000"
    )

    @Test func decodesDigQuery() throws {
        let message = try Message(decoding: Self.digQuery)
        #expect(message.id == 0xe624)
        #expect(!message.isResponse)
        #expect(message.recursionDesired)
        #expect(message.authenticData)
        #expect(message.question == Question(name: name("www.example.net"), type: .a))
        #expect(message.question?.name.description == "WwW.Example.NET.")
        #expect(message.edns?.udpPayloadSize == 1232)
        #expect(message.edns?.options == [EDNS.Option(code: 10, data: [0, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77])])
        #expect(message.udpResponseLimit == 1232)
        #expect(message.encoded() == Self.digQuery)
    }

    @Test func decodesCompressedAnswerAndReencodesIdentically() throws {
        let message = try Message(decoding: Self.dnsmasqAnswer)
        #expect(message.isResponse && message.recursionAvailable && message.recursionDesired)
        #expect(message.rcode == .noError)
        #expect(
            message.answers == [
                ResourceRecord(name: name("www.example.net"), ttl: 0, data: .a(IPAddress("192.0.2.53")!))
            ]
        )
        #expect(message.answers[0].name.isIdentical(to: message.questions[0].name))
        #expect(message.encoded() == Self.dnsmasqAnswer)
    }

    @Test func roundTripsEveryRecordForm() throws {
        let zone = name("cluster.local")
        let records: [ResourceRecord] = [
            ResourceRecord(name: name("web.default.svc.cluster.local"), ttl: 5, data: .a(IPAddress("10.96.0.10")!)),
            ResourceRecord(name: name("web.default.svc.cluster.local"), ttl: 5, data: .aaaa(IPAddress("fd00::a")!)),
            ResourceRecord(name: name("ext.default.svc.cluster.local"), ttl: 5, data: .cname(name("example.com"))),
            ResourceRecord(
                name: name("10.0.96.10.in-addr.arpa"),
                ttl: 5,
                data: .ptr(name("web.default.svc.cluster.local"))
            ),
            ResourceRecord(name: zone, ttl: 5, data: .ns(name("ns.dns.cluster.local"))),
            ResourceRecord(
                name: name("_http._tcp.web.default.svc.cluster.local"),
                ttl: 5,
                data: .srv(SRV(priority: 0, weight: 100, port: 80, target: name("web.default.svc.cluster.local")))
            ),
            ResourceRecord(name: name("dns-version.cluster.local"), ttl: 28800, data: .txt("1.1.0")),
            ResourceRecord(
                name: name("example.com"),
                ttl: 60,
                data: .mx(preference: 10, exchange: name("mail.example.com"))
            ),
            ResourceRecord(
                name: name("example.com"),
                ttl: 60,
                data: .unknown(type: RecordType(rawValue: 257), data: [0, 5, 105, 115])
            ),
        ]
        let soa = ResourceRecord(
            name: zone,
            ttl: 5,
            data: .soa(
                SOA(
                    primary: name("ns.dns.cluster.local"),
                    mailbox: name("hostmaster.cluster.local"),
                    serial: 1_499_347_823,
                    refresh: 7200,
                    retry: 1800,
                    expire: 86400,
                    minimum: 5
                )
            )
        )
        var message = Message.query(id: 7, name: name("web.default.svc.cluster.local"), type: .a).makeResponse()
        message.isAuthoritative = true
        message.answers = records
        message.authorities = [soa]
        message.additionals = [records[0]]
        message.rcode = .badVersion
        let decoded = try Message(decoding: message.encoded())
        #expect(decoded == message)
        #expect(decoded.rcode == .badVersion)
    }

    @Test func compressesRepeatedSuffixes() throws {
        var message = Message.query(id: 1, name: name("web.default.svc.cluster.local"), type: .a).makeResponse()
        message.answers = (1...10).map {
            ResourceRecord(name: name("web.default.svc.cluster.local"), ttl: 5, data: .a(.v4(0x0a00_0000 + UInt32($0))))
        }
        let bytes = message.encoded()
        // Header 12 + question 35 + 10 × (2-byte pointer + 10 + 4) + OPT 11.
        #expect(bytes.count == 12 + 35 + 10 * 16 + 11)
        #expect(try Message(decoding: bytes) == message)
    }

    @Test func largeAnswersWithManyDistinctNamesRoundTrip() throws {
        let service = name("headless.default.svc.cluster.local")
        var message = Message.query(id: 1, name: service, type: .srv).makeResponse()
        message.answers = (0..<300).map {
            ResourceRecord(
                name: service,
                ttl: 5,
                data: .srv(
                    SRV(priority: 0, weight: 1, port: 80, target: name("ep-\($0).headless.default.svc.cluster.local"))
                )
            )
        }
        message.additionals = (0..<300).map {
            ResourceRecord(name: name("ep-\($0).headless.default.svc.cluster.local"), ttl: 5, data: .a(.v4(UInt32($0))))
        }
        let bytes = message.encoded()
        #expect(try Message(decoding: bytes) == message)
        // Each additional owner compresses to its label plus a pointer to the shared service suffix.
        let uncompressedOwners = 300 * (name("ep-100.headless.default.svc.cluster.local").wireLength)
        #expect(bytes.count < message.answers.count * 60 + uncompressedOwners)
    }

    @Test func compressionKeepsTheCaseOfEachName() throws {
        var message = Message.query(id: 1, name: name("WEB.default.svc.cluster.local"), type: .cname).makeResponse()
        message.answers = [
            ResourceRecord(
                name: name("WEB.default.svc.cluster.local"),
                ttl: 5,
                data: .cname(name("web.default.svc.cluster.local"))
            )
        ]
        let decoded = try Message(decoding: message.encoded())
        guard case .cname(let target) = decoded.answers[0].data else {
            Issue.record("expected a CNAME")
            return
        }
        #expect(target.description == "web.default.svc.cluster.local.")
        #expect(decoded.answers[0].name.description == "WEB.default.svc.cluster.local.")
    }

    @Test func tcpFramingPrefixesLength() {
        #expect(Message.tcpFramed([1, 2, 3]) == [0, 3, 1, 2, 3])
    }
}
