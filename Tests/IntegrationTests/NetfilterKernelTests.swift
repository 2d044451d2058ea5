import Foundation
import Netfilter
import RuleSynth
import Testing

@Suite(
    "Netfilter against the kernel",
    .serialized,
    .enabled(if: NetfilterEnvironment.available, NetfilterEnvironment.skipReason)
)
struct NetfilterKernelTests {
    /// A batch that fails in the middle changes nothing: the kernel aborts the whole transaction.
    @Test func failedBatchLeavesThePreviousRulesetByteForByte() throws {
        let namespace = try ScratchNamespace()
        let client = try NetfilterClient(netns: namespace.name)
        try client.apply(HandBuiltRuleset.transaction)
        let before = try namespace.ruleset()
        let bytecodeBefore = try namespace.bytecode()

        let broken = Transaction([
            .flushChain(.ip, table: "kproxy", chain: "services"),
            .addChain(.ip, table: "kproxy", Chain(name: "service-new")),
            .addRule(.ip, table: "kproxy", chain: "service-new", Rule([.counter])),
            .addElements(
                .ip,
                table: "kproxy",
                set: "cluster-ips",
                [SetElement(key: [.address(HandBuiltRuleset.address("10.96.9.9"))])]
            ),
            .addRule(
                .ip,
                table: "kproxy",
                chain: "services",
                Rule([.immediate(.verdict(.jump("no-such-chain")), dest: .verdict)])
            ),
            .deleteChain(.ip, table: "kproxy", chain: "service-def"),
            .deleteSet(.ip, table: "kproxy", set: "backends", isMap: true),
        ])
        #expect {
            try client.apply(broken)
        } throws: { error in
            guard case NetfilterError.rejected(let rejections) = error else { return false }
            // The jump to a missing chain is named; deleting chains and sets still in use is refused too.
            return rejections.contains { $0.operation == "add rule ip kproxy services" && $0.errno == ENOENT }
                && rejections.contains { $0.operation == "delete chain ip kproxy service-def" }
        }
        #expect(try namespace.ruleset() == before)
        #expect(try namespace.bytecode() == bytecodeBefore)
    }

    @Test func readsBackOnlyItsOwnTable() throws {
        let namespace = try ScratchNamespace()
        try namespace.nftLoad("table ip other {\n chain c {\n type filter hook input priority 0;\n counter\n }\n}\n")
        let client = try NetfilterClient(netns: namespace.name)
        try client.apply(HandBuiltRuleset.transaction)

        let table = try #require(try client.table(.ip, named: "kproxy"))
        #expect(
            Set(table.chains.keys) == [
                "nat-prerouting", "nat-postrouting", "filter-input", "firewall-check", "services", "service-abc",
                "service-def",
            ]
        )
        #expect(table.chains["services"]?.ruleCount == 3)
        #expect(table.chains["service-abc"]?.ruleCount == 7)
        #expect(table.chains["nat-prerouting"]?.hook == Hook.prerouting.number)
        #expect(table.chains["services"]?.hook == nil)
        #expect(table.sets["service-ips"]?.elementCount == 2)
        #expect(table.sets["service-ips"]?.flags.contains(.map) == true)
        // Two ranges: two starts, two ends, plus the interval end nft opens the set with.
        #expect(table.sets["cluster-cidrs"]?.elementCount == 5)
        #expect(table.sets["affinity-x"]?.elementCount == 0)
        #expect(table.chains["c"] == nil)
        #expect(try client.table(.ip6, named: "kproxy") == nil)
    }

    /// `kproxy cleanup` (and the call behind it) removes exactly `ip kproxy` and `ip6 kproxy`.
    @Test func cleanupDeletesOnlyKproxyTables() throws {
        let namespace = try ScratchNamespace()
        let others = """
            table inet kproxy {
            	chain keep {
            		type filter hook input priority 0; policy accept;
            		counter packets 0 bytes 0
            	}
            }
            table ip filter {
            	set blocked {
            		type ipv4_addr
            		elements = { 192.0.2.1 }
            	}

            	chain input {
            		type filter hook input priority 10; policy accept;
            		ip saddr @blocked drop
            	}
            }

            """
        try namespace.nftLoad(others)
        let othersListed = try namespace.ruleset()
        let client = try NetfilterClient(netns: namespace.name)
        try client.apply(HandBuiltRuleset.transaction)
        try client.apply(Transaction([.addTable(.ip6, "kproxy", comment: nil)]))
        #expect(try namespace.ruleset() != othersListed)

        let binary = kproxyBinary
        if FileManager.default.isExecutableFile(atPath: binary) {
            let output = try run([binary, "cleanup", "--netns", namespace.name])
            #expect(output.contains("deleted table ip kproxy, table ip6 kproxy"))
        } else {
            #expect(try client.deleteTables(named: "kproxy") == [.ip, .ip6])
        }
        #expect(try namespace.ruleset() == othersListed)
        #expect(try client.deleteTables(named: "kproxy") == [])
    }

    /// `kproxy rules --apply` programs exactly what `kproxy rules` prints.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: kproxyBinary), "needs .build/debug/kproxy"))
    func rulesApplyProgramsWhatTheDryRunPrints() throws {
        let viaApply = try ScratchNamespace()
        let viaNft = try ScratchNamespace()
        let arguments = [
            kproxyBinary, "rules", "--manifests", DemoCluster.directory, "--config", DemoCluster.configFile,
        ]
        let output = try run(arguments + ["--apply", "--netns", viaApply.name])
        #expect(output.hasPrefix("programmed 2 tables"))
        try viaNft.nftLoad(try run(arguments))
        let (actual, expected) = (try viaApply.ruleset(), try viaNft.ruleset())
        #expect(actual == expected, "\(lineDifference(actual, expected))")
    }
}
