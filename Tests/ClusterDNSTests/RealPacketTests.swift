import KubeModel
import Testing

@testable import ClusterDNS

/// Responses captured from dnsmasq 2.90 (`--mx-host`, `--srv-host`, `--txt-record`, `--host-record`,
/// TTL 30), decoded field by field: RDATA names with pointers into earlier RDATA, additional records,
/// multi-string TXT, and a REFUSED.
@Suite struct RealPacketTests {
    static let mx = MessageCodecTests.hex(
        "111185800001000100000002076578616d706c65036e657400000f0001c00c000f00010000001e0014000a046d61696c0765"
            + "78616d706c65036e657400c02b000100010000001e0004c0000219c02b001c00010000001e001020010db800000000"
            + "0000000000000025"
    )
    static let srv = MessageCodecTests.hex(
        "222285800001000100000001055f68747470045f746370076578616d706c65036e65740000210001c00c0021000100"
            + "00001e001700000064005003776562076578616d706c65036e657400c03a000100010000001e0004c0000250"
    )
    static let txt = MessageCodecTests.hex(
        "333385800001000100000000076578616d706c65036e65740000100001c00c001000010000001e00130b763d7370663120"
            + "2d616c6c067365636f6e64"
    )
    static let aaaa = MessageCodecTests.hex(
        "444485800001000100000000046d61696c076578616d706c65036e657400001c0001c00c001c00010000001e00102001"
            + "0db8000000000000000000000025"
    )
    static let refused = MessageCodecTests.hex(
        "555581850001000000000000046e6f7065076578616d706c65036e65740000010001"
    )

    @Test func mxWithGlueWhoseOwnersPointIntoRData() throws {
        let message = try Message(decoding: Self.mx)
        #expect(message.id == 0x1111 && message.isAuthoritative)
        #expect(
            message.answers == [
                ResourceRecord(
                    name: name("example.net"),
                    ttl: 30,
                    data: .mx(preference: 10, exchange: name("mail.example.net"))
                )
            ]
        )
        #expect(message.additionals.map(\.name) == [name("mail.example.net"), name("mail.example.net")])
        #expect(message.additionals.map(\.data) == [.a(IPAddress("192.0.2.25")!), .aaaa(IPAddress("2001:db8::25")!)])
        #expect(try Message(decoding: message.encoded()) == message)
    }

    @Test func srvWithGlue() throws {
        let message = try Message(decoding: Self.srv)
        #expect(
            message.answers.first?.data
                == .srv(SRV(priority: 0, weight: 100, port: 80, target: name("web.example.net")))
        )
        #expect(message.additionals.first?.data == .a(IPAddress("192.0.2.80")!))
        #expect(try Message(decoding: message.encoded()) == message)
    }

    @Test func txtWithTwoStrings() throws {
        let message = try Message(decoding: Self.txt)
        #expect(message.answers.first?.data == .txt([Array("v=spf1 -all".utf8), Array("second".utf8)]))
        #expect(message.encoded() == Self.txt)
    }

    @Test func aaaaAndRefused() throws {
        #expect(try Message(decoding: Self.aaaa).answers.first?.data == .aaaa(IPAddress("2001:db8::25")!))
        #expect(try Message(decoding: Self.aaaa).encoded() == Self.aaaa)
        let refused = try Message(decoding: Self.refused)
        #expect(refused.rcode == .refused && refused.recursionDesired && refused.answers.isEmpty)
        #expect(refused.encoded() == Self.refused)
    }
}
