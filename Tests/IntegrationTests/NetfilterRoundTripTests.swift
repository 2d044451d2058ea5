import Netfilter
import RuleSynth
import Testing

/// Every ruleset kproxy programs over netlink must list exactly as `nft -f` of its rendered text lists:
/// operators debug with `nft list ruleset`, and the dry-run text must mean what the daemon programs.
@Suite(
    "Netfilter round trip against nft",
    .serialized,
    .enabled(if: NetfilterEnvironment.available, NetfilterEnvironment.skipReason)
)
struct NetfilterRoundTripTests {
    /// Programs `transaction` over netlink in one namespace and `text` with nft in another, and compares
    /// both the listings and the bytecode.
    func roundTrip(_ transaction: Transaction, text: String) throws {
        let viaNetlink = try ScratchNamespace()
        let viaNft = try ScratchNamespace()
        try NetfilterClient(netns: viaNetlink.name).apply(transaction)
        try viaNft.nftLoad(text)
        let (actual, expected) = (try viaNetlink.ruleset(), try viaNft.ruleset())
        #expect(actual == expected, "\(lineDifference(actual, expected))")
        let (bytecode, expectedBytecode) = (try viaNetlink.bytecode(), try viaNft.bytecode())
        #expect(bytecode == expectedBytecode, "\(lineDifference(bytecode, expectedBytecode))")
    }

    @Test func handBuiltRuleset() throws {
        try roundTrip(HandBuiltRuleset.transaction, text: HandBuiltRuleset.text)
    }

    @Test(arguments: Scenario.all)
    func goldenCluster(_ scenario: Scenario) throws {
        let transaction = SyncPlanner.fullSync(scenario.ruleset)
        try roundTrip(transaction, text: transaction.render())
    }

    @Test func demoCluster() throws {
        let ruleset = synthesize(try DemoCluster.snapshot(), node: DemoCluster.node)
        let transaction = SyncPlanner.fullSync(ruleset)
        try roundTrip(transaction, text: transaction.render())
    }
}
