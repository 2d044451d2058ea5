import Netfilter
import RuleSynth
import Testing

@Suite("Netfilter round trip against nft", .serialized, .enabled(if: NetfilterEnvironment.available, NetfilterEnvironment.skipReason))
struct NetfilterRoundTripTests {
    @Test func handBuiltRulesetListsLikeNftLoadedText() throws {
        let viaNetlink = try ScratchNamespace()
        let viaNft = try ScratchNamespace()
        try NetfilterClient(netns: viaNetlink.name).apply(HandBuiltRuleset.transaction)
        try viaNft.nftLoad(HandBuiltRuleset.text)
        let expected = try viaNft.ruleset()
        let actual = try viaNetlink.ruleset()
        #expect(actual == expected, "\(lineDifference(actual, expected))")
        #expect(actual.contains("comment \"kube-system/kube-dns:dns\""))
        let (bytecode, expectedBytecode) = (try viaNetlink.bytecode(), try viaNft.bytecode())
        #expect(bytecode == expectedBytecode, "\(lineDifference(bytecode, expectedBytecode))")
    }
}
