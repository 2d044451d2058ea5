import KubeModel
import Testing

@Suite("IP addresses and CIDRs")
struct IPAddressTests {
    @Test(arguments: [
        ("10.96.0.1", "10.96.0.1"), ("0.0.0.0", "0.0.0.0"), ("255.255.255.255", "255.255.255.255"),
        ("::", "::"), ("::1", "::1"), ("fd00:10:96::50", "fd00:10:96::50"),
        ("FD00:0:0:0:0:0:0:1", "fd00::1"), ("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"),
        ("2001:0db8:0000:0000:0000:ff00:0042:8329", "2001:db8::ff00:42:8329"), ("::ffff:10.0.0.1", "::ffff:a00:1"),
        ("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8"), ("1::", "1::"), ("1:0:0:2:0:0:0:3", "1:0:0:2::3"), ("1:0:0:2:0:0:3:4", "1::2:0:0:3:4"),
    ])
    func parsesAndFormatsCanonically(input: String, canonical: String) throws {
        let address = try #require(IPAddress(input))
        #expect(address.description == canonical)
        #expect(IPAddress(canonical) == address)
        #expect(IPAddress(bytes: address.bytes) == address)
    }

    @Test(arguments: [
        "", "1.2.3", "1.2.3.4.5", "256.1.1.1", "01.2.3.4", "1.2.3.-4", "1..2.3", "a.b.c.d", " 1.2.3.4",
        ":::", "1:2:3:4:5:6:7:8:9", "1::2::3", "12345::", "::g", "1:2:3:4:5:6:7:", ":1:2", "::1.2.3", "1.2.3.4::",
    ])
    func rejectsInvalidText(input: String) {
        #expect(IPAddress(input) == nil)
    }

    @Test func cidrContainsAndMasks() throws {
        let cidr = try #require(CIDR("10.244.1.7/16"))
        #expect(cidr.description == "10.244.0.0/16")
        #expect(cidr.contains(IPAddress("10.244.200.1")!))
        #expect(!cidr.contains(IPAddress("10.245.0.1")!))
        #expect(!cidr.contains(IPAddress("::1")!))
        #expect(cidr.lastAddress == IPAddress("10.244.255.255"))
        let v6 = try #require(CIDR("fd00:10:244::/56"))
        #expect(v6.contains(IPAddress("fd00:10:244:ff::1")!))
        #expect(v6.lastAddress == IPAddress("fd00:10:244:ff:ffff:ffff:ffff:ffff"))
        #expect(CIDR("0.0.0.0/0")?.contains(IPAddress("8.8.8.8")!) == true)
        #expect(CIDR("10.0.0.0/33") == nil)
        #expect(CIDR("10.0.0.0") == nil)
    }

    @Test func dashedForm() {
        #expect(IPAddress("10.244.1.5")?.dashed == "10-244-1-5")
        #expect(IPAddress("fd00::5")?.dashed == "fd00--5")
    }
}
