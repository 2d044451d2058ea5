import ClusterModel
import KubeModel
import Netfilter
import RuleSynth
import Testing

/// Partial syncs must converge on exactly what a full sync programs: a sequence of random cluster changes,
/// each applied as the sync planner's diff in one namespace, ends where one full apply of the final state
/// ends in another.
@Suite(
    "Netfilter incremental syncs",
    .serialized,
    .enabled(if: NetfilterEnvironment.available, NetfilterEnvironment.skipReason)
)
struct NetfilterIncrementalTests {
    /// SplitMix64, so a failing sequence can be replayed from its seed.
    struct Random: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9e37_79b9_7f4a_7c15
            var z = state
            z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
            z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
            return z ^ (z >> 31)
        }
    }

    /// One random Service port with random endpoints and features, numbered `index`.
    static func randomPort(_ index: Int, using random: inout Random) -> (ServicePortInfo, [ServiceEndpoint]) {
        let proto: TransportProtocol = [.tcp, .tcp, .udp, .sctp].randomElement(using: &random)!
        var info = Fixtures.port(
            "ns\(index % 3)",
            "svc\(index)",
            port: UInt16(80 + index % 5),
            proto: proto,
            clusterIPs: ["172.30.\(index / 250).\(index % 250 + 1)"]
        )
        if Bool.random(using: &random) {
            info.type = .nodePort
            info.nodePort = UInt16(30000 + index)
        }
        if Int.random(in: 0..<4, using: &random) == 0 { info.sessionAffinityTimeout = 10800 }
        if Int.random(in: 0..<5, using: &random) == 0 { info.externalIPs = [Fixtures.ip("192.0.2.\(index % 250 + 1)")] }
        if info.type == .nodePort, Int.random(in: 0..<4, using: &random) == 0 { info.externalPolicyLocal = true }
        let count = Int.random(in: 0...4, using: &random)
        let endpoints = (0..<count).map { endpoint in
            Fixtures.ep(
                "10.180.\(index % 250).\(endpoint + 1)",
                8080,
                ready: Int.random(in: 0..<5, using: &random) != 0,
                terminating: Int.random(in: 0..<6, using: &random) == 0,
                local: Bool.random(using: &random)
            )
        }
        return (info, endpoints)
    }

    @Test(arguments: [UInt64(1), 2])
    func randomChangesConvergeOnAFullApply(seed: UInt64) throws {
        var random = Random(state: seed)
        let incremental = try ScratchNamespace()
        let fresh = try ScratchNamespace()
        let client = try NetfilterClient(netns: incremental.name)
        var synthesizer = RuleSynthesizer(node: Fixtures.node)
        var planner = SyncPlanner()
        var live: [Int: ServicePortName] = [:]
        var now = 0.0
        var partialSyncs = 0
        for index in 0..<20 {
            let (info, endpoints) = Self.randomPort(index, using: &random)
            synthesizer.update(info, endpoints: endpoints)
            live[index] = info.name
        }
        for step in 0..<60 {
            let index = Int.random(in: 0..<30, using: &random)
            switch Int.random(in: 0..<3, using: &random) {
            case 0 where live[index] != nil:
                synthesizer.remove(live.removeValue(forKey: index)!)
            default:
                let (info, endpoints) = Self.randomPort(index, using: &random)
                if let old = live[index], old != info.name { synthesizer.remove(old) }
                synthesizer.update(info, endpoints: endpoints)
                live[index] = info.name
            }
            let plan = planner.plan(synthesizer.ruleset, now: now)
            do {
                try client.apply(plan.transaction)
            } catch {
                Issue.record("step \(step) (seed \(seed)): \(error)\n\(plan.transaction.render())")
                return
            }
            if !plan.isFull { partialSyncs += 1 }

            planner = plan.next
            now += Double.random(in: 0.2...1.5, using: &random)
        }
        // Let pending stale-chain deletions fall due, as the daemon's timer would.
        let last = planner.plan(synthesizer.ruleset, now: now + SyncPlanner.staleChainDelay)
        try client.apply(last.transaction)
        #expect(partialSyncs >= 50)

        try NetfilterClient(netns: fresh.name).apply(SyncPlanner.fullSync(synthesizer.ruleset))
        let (actual, expected) = (try incremental.canonicalRuleset(), try fresh.canonicalRuleset())
        #expect(actual == expected, "\(lineDifference(actual, expected))")
    }
}
