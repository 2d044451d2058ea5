import Testing

@testable import ClusterDNS

@Suite struct DNSNameTests {
    @Test func parsesAndFormatsWithEscapes() throws {
        #expect(try DNSName("www.example.com").description == "www.example.com.")
        #expect(try DNSName("www.example.com.").labelCount == 3)
        #expect(try DNSName(".") == .root)
        #expect(DNSName.root.description == ".")
        let escaped = try DNSName(#"a\.b.c\\d.\065\032x"#)
        #expect(escaped.labels.map { Array($0) } == [Array("a.b".utf8), Array(#"c\d"#.utf8), Array("A x".utf8)])
        #expect(escaped.description == #"a\.b.c\\d.A\032x."#)
        #expect(try DNSName(escaped.description).isIdentical(to: escaped))
    }

    @Test func rejectsMalformedText() {
        #expect(throws: DNSNameError.emptyLabel) { try DNSName("") }
        #expect(throws: DNSNameError.emptyLabel) { try DNSName("a..b") }
        #expect(throws: DNSNameError.emptyLabel) { try DNSName(".a") }
        #expect(throws: DNSNameError.labelTooLong(64)) { try DNSName(String(repeating: "x", count: 64)) }
        #expect(throws: DNSNameError.badEscape(#"a\25"#)) { try DNSName(#"a\25"#) }
        #expect(throws: DNSNameError.badEscape(#"a\256"#)) { try DNSName(#"a\256"#) }
        let long = Array(repeating: String(repeating: "x", count: 63), count: 4).joined(separator: ".")
        #expect(throws: DNSNameError.nameTooLong(257)) { try DNSName(long) }
    }

    @Test func comparesIgnoringCaseButKeepsIt() throws {
        let upper = try DNSName("WEB.Default.svc.cluster.local")
        let lower = try DNSName("web.default.svc.cluster.local")
        #expect(upper == lower)
        #expect(upper.hashValue == lower.hashValue)
        #expect(!upper.isIdentical(to: lower))
        #expect(upper.lowercased().isIdentical(to: lower))
        #expect(Set([upper, lower]).count == 1)
    }

    @Test func navigatesLabels() throws {
        let name = try DNSName("_http._tcp.web.default.svc.cluster.local")
        let zone = try DNSName("Cluster.Local")
        #expect(name.isSubdomain(of: zone))
        #expect(!name.isSubdomain(of: try DNSName("ster.local")))
        #expect(name.isSubdomain(of: .root))
        #expect(
            name.relative(to: zone)?.map { String(decoding: $0, as: UTF8.self) }
                == ["_http", "_tcp", "web", "default", "svc"]
        )
        #expect(name.dropping(labels: 2) == (try DNSName("web.default.svc.cluster.local")))
        #expect(try DNSName("web").appending(try DNSName("default.svc.cluster.local")) == name.dropping(labels: 2))
        #expect(try zone.prepending(label: Array("svc".utf8)).description == "svc.Cluster.Local.")
        #expect(name.firstLabel.map { String(decoding: $0, as: UTF8.self) } == "_http")
    }
}
