import ClusterModel
import Foundation
import KubeModel
import Testing
@testable import RuleSynth

@Suite("Golden rulesets")
struct GoldenTests {
    @Test("Ruleset per feature", arguments: Scenario.all)
    func feature(_ scenario: Scenario) {
        Golden.check("\(scenario.name).nft", scenario.ruleset.render())
    }

    @Test("The demo cluster's manifests, as node-a")
    func demoCluster() throws {
        Golden.check("demo-cluster.nft", try Self.demoRuleset().render())
    }

    @Test("Output is deterministic whatever order ports arrive in", arguments: Scenario.all)
    func deterministic(_ scenario: Scenario) {
        var reversed = RuleSynthesizer(node: scenario.node)
        for (info, endpoints) in scenario.ports.reversed() { reversed.update(info, endpoints: endpoints) }
        #expect(reversed.ruleset == scenario.ruleset)
        #expect(reversed.ruleset.render() == scenario.ruleset.render())
    }

    @Test("nft accepts every golden ruleset and its full-sync transaction", arguments: Scenario.all)
    func nftAccepts(_ scenario: Scenario) throws {
        try #require(NftCheck.unavailableReason == nil, "skipped: \(NftCheck.unavailableReason ?? "")")
        let ruleset = scenario.ruleset
        #expect(try NftCheck.check(ruleset.render()) == nil)
        #expect(try NftCheck.check(SyncPlanner.fullSync(ruleset).render()) == nil)
    }

    @Test("nft accepts the demo cluster's ruleset")
    func nftAcceptsDemo() throws {
        try #require(NftCheck.unavailableReason == nil, "skipped: \(NftCheck.unavailableReason ?? "")")
        let ruleset = try Self.demoRuleset()
        #expect(try NftCheck.check(ruleset.render()) == nil)
        #expect(try NftCheck.check(SyncPlanner.fullSync(ruleset).render()) == nil)
    }

    static let demoNode = NodeConfig(
        nodeName: "node-a", nodeIPs: [IPAddress("10.0.0.11")!, IPAddress("fd00::11")!],
        nodePortAddresses: [CIDR("10.0.0.11/32")!, CIDR("fd00::11/128")!],
        clusterCIDRs: [CIDR("10.244.0.0/16")!, CIDR("fd00:10:244::/56")!], zone: "zone-a")

    static func demoRuleset() throws -> Ruleset {
        let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .appendingPathComponent("../../deploy/examples/demo-cluster").standardized.path
        let load = try ManifestLoader.load(directory: directory)
        #expect(load.errors.isEmpty)
        var state = ClusterState(nodeName: "node-a")
        state.apply(load.events)
        return synthesize(state.snapshot, node: demoNode)
    }
}
