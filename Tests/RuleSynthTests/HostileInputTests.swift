import ClusterModel
import KubeModel
import Testing
@testable import RuleSynth

/// Inputs the API server would refuse but a manifest or a bug can deliver: synthesis never traps, and
/// what it renders is still valid nft.
@Suite("Hostile input")
struct HostileInputTests {
    typealias F = Fixtures

    static func expectValid(_ ruleset: Ruleset) throws {
        guard NftCheck.unavailableReason == nil else { return }
        #expect(try NftCheck.check(ruleset.render()) == nil)
        #expect(try NftCheck.check(SyncPlanner.fullSync(ruleset).render()) == nil)
    }

    @Test("65,536 endpoints on one port")
    func manyEndpoints() throws {
        let endpoints = (0..<65536).map { ServiceEndpoint(address: .v4(0x0A00_0000 + UInt32($0)), port: 8080) }
        let ruleset = F.ruleset([(F.port("ns", "huge", clusterIPs: ["172.30.0.1"]), endpoints)])
        let chain = try #require(ruleset.table(.ip)?.chains[ServiceFragment.Names(ServicePortName(namespace: "ns", name: "huge", port: "p80", protocol: .tcp)).cluster])
        #expect(chain.rules.count == 65536)
        #expect(ruleset.table(.ip)?.sets["hairpin-connections"]?.elements.count == 65536)
        let text = ruleset.render()
        #expect(text.contains("numgen random mod 65536 0 meta l4proto tcp dnat to 10.0.0.0:8080"))
        try Self.expectValid(ruleset)
    }

    @Test("Names at the API's length limits, with IPv6 endpoints and affinity")
    func longNames() throws {
        let long63 = String(repeating: "a", count: 62) + "z"
        let info = F.port(long63, String(repeating: "s", count: 63), portName: String(repeating: "p", count: 63), clusterIPs: ["fd00:30::1"]) {
            $0.sessionAffinityTimeout = 60
            $0.type = .loadBalancer
            $0.nodePort = 30080
            $0.loadBalancerIPs = [F.ip("fd00:99::1")]
            $0.loadBalancerSourceRanges = [CIDR("fd00:1::/48")!]
        }
        let endpoint = F.ep("fd00:1234:5678:9abc:def0:1234:5678:9abc", 65535)
        let ruleset = F.ruleset(node: F.dualNode, [(info, [endpoint])])
        let table = try #require(ruleset.table(.ip6))
        for name in Array(table.chains.keys) + Array(table.sets.keys) {
            #expect(name.utf8.count <= 255, "\(name) is too long for the kernel")
        }
        let affinity = ChainNames.affinity(info.name, endpoint)
        #expect(affinity.hasSuffix("..."))
        #expect(affinity.utf8.count == "affinity-".count + ChainNames.baseLengthMax)
        #expect(table.sets[affinity] != nil)
        try Self.expectValid(ruleset)
    }

    @Test("IPv6 endpoints in a single-stack IPv4 Service are ignored, and vice versa")
    func mixedFamilies() throws {
        let ruleset = F.ruleset(node: F.dualNode, [
            (F.port("ns", "v4", clusterIPs: ["172.30.0.1"]), [F.ep("10.1.0.1"), F.ep("fd00::99")]),
            (F.port("ns", "v6", clusterIPs: ["fd00:30::2"]), [F.ep("10.1.0.2")]),
        ])
        let v4 = try #require(ruleset.table(.ip))
        let v6 = try #require(ruleset.table(.ip6))
        #expect(v4.render().contains("dnat to 10.1.0.1:80"))
        #expect(!v4.render().contains("fd00::99"))
        #expect(!v6.render().contains("fd00::99"))
        // The IPv6-only Service has no usable endpoint of its family: reject.
        #expect(v6.render().contains("fd00:30::2 . tcp . 80 comment \"ns/v6:p80\" : goto reject-chain"))
        try Self.expectValid(ruleset)
    }

    @Test("Two Services claiming one IP:port and NodePort: the lower name wins, the other takes over when it goes")
    func conflictingServices() throws {
        let a = F.port("ns", "a", clusterIPs: ["172.30.0.9"]) { $0.type = .nodePort; $0.nodePort = 30000 }
        let b = F.port("ns", "b", clusterIPs: ["172.30.0.9"]) { $0.type = .nodePort; $0.nodePort = 30000 }
        var synthesizer = RuleSynthesizer(node: F.node)
        synthesizer.update(b, endpoints: [F.ep("10.1.0.2")])
        synthesizer.update(a, endpoints: [F.ep("10.1.0.1")])
        let both = synthesizer.ruleset
        let serviceIPs = try #require(both.table(.ip)?.sets["service-ips"])
        #expect(serviceIPs.elements.count == 1)
        #expect(serviceIPs.elements.first?.data == .verdict(.goto(ServiceFragment.Names(a.name).cluster)))
        try Self.expectValid(both)
        synthesizer.remove(a.name)
        #expect(synthesizer.ruleset.table(.ip)?.sets["service-ips"]?.elements.first?.data == .verdict(.goto(ServiceFragment.Names(b.name).cluster)))
        #expect(synthesizer.ruleset == F.ruleset([(b, [F.ep("10.1.0.2")])]))
    }

    @Test("Characters nft cannot parse are replaced in names and comments")
    func hostileCharacters() throws {
        let info = F.port("bad ns\"; drop", "svc\n{x}", portName: "p;1", clusterIPs: ["172.30.0.5"])
        let ruleset = F.ruleset([(info, [])])
        let text = ruleset.render()
        #expect(text.contains("comment \"bad_ns___drop/svc__x_:p_1\""))
        try Self.expectValid(ruleset)
    }

    @Test("Port 0 endpoints, absurd affinity timeouts and masquerade bits do not trap")
    func absurdNumbers() throws {
        let info = F.port("ns", "odd", port: 0, clusterIPs: ["172.30.0.6"]) { $0.sessionAffinityTimeout = Int.max }
        let node = NodeConfig(nodeName: F.nodeName, nodeIPs: [F.ip("192.168.0.2")], masqueradeBit: 99)
        let ruleset = F.ruleset(node: node, [(info, [F.ep("10.1.0.1", 0), F.ep("10.1.0.2", 65535)])])
        let text = ruleset.render()
        #expect(!text.contains("10.1.0.1"))
        #expect(text.contains("timeout 1d"))
        #expect(text.contains("0x00004000"))
        try Self.expectValid(ruleset)
    }
}
