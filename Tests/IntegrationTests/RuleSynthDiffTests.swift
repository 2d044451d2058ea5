import ClusterModel
import Foundation
import KubeModel
import RuleSynth
import Testing

/// A reproducible generator (SplitMix64), so a failing seed can be replayed.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// Random cluster states over a small pool of Services, so that successive states overlap the way a
/// real cluster's do: Services come and go, endpoints move, policies flip.
enum RandomCluster {
    static let node = NodeConfig(
        nodeName: "node1", nodeIPs: [IPAddress("192.168.0.2")!, IPAddress("fd00::2")!],
        clusterCIDRs: [CIDR("10.0.0.0/8")!, CIDR("fd00:10::/64")!], zone: "zone-a")

    typealias State = [ServicePortName: (ServicePortInfo, [ServiceEndpoint])]

    static func state(_ rng: inout SplitMix64) -> State {
        var state: State = [:]
        for index in 0..<14 where Bool.random(using: &rng) || index < 2 {
            let (info, endpoints) = service(index, &rng)
            state[info.name] = (info, endpoints)
        }
        return state
    }

    static func service(_ index: Int, _ rng: inout SplitMix64) -> (ServicePortInfo, [ServiceEndpoint]) {
        let proto = [TransportProtocol.tcp, .udp, .sctp][index % 3]
        let name = ServicePortName(namespace: "ns\(index % 4)", name: "svc\(index)", port: "p\(index)", protocol: proto)
        let dual = index % 5 == 0
        var clusterIPs = [IPAddress.v4(0xAC1E_0000 + UInt32(index))]
        if dual { clusterIPs.append(IPAddress("fd00:30::\(index + 1)")!) }
        var info = ServicePortInfo(name: name, port: UInt16(80 + index % 3), clusterIPs: clusterIPs)
        switch Int.random(in: 0..<4, using: &rng) {
        case 0: info.type = .clusterIP
        case 1:
            info.type = .nodePort
            info.nodePort = UInt16(30000 + index)
        default:
            info.type = .loadBalancer
            info.nodePort = UInt16(30000 + index)
            info.loadBalancerIPs = [IPAddress.v4(0x0506_0700 + UInt32(index))]
            if Bool.random(using: &rng) { info.loadBalancerSourceRanges = [CIDR("203.0.113.0/25")!, CIDR("192.168.0.0/16")!] }
        }
        if Int.random(in: 0..<4, using: &rng) == 0 { info.externalIPs = [IPAddress.v4(0xC0A8_6300 + UInt32(index))] }
        if Int.random(in: 0..<3, using: &rng) == 0 { info.sessionAffinityTimeout = [60, 10800][Int.random(in: 0..<2, using: &rng)] }
        info.externalPolicyLocal = info.isExternallyAccessible && Bool.random(using: &rng)
        info.internalPolicyLocal = Int.random(in: 0..<4, using: &rng) == 0
        if Int.random(in: 0..<4, using: &rng) == 0 { info.trafficDistribution = "PreferClose" }

        var endpoints: [ServiceEndpoint] = []
        for slot in 0..<Int.random(in: 0...5, using: &rng) {
            let v6 = dual && slot % 2 == 1
            let address = v6 ? IPAddress("fd00:180::\(index * 8 + slot + 1)")! : IPAddress.v4(0x0AB4_0000 + UInt32(index * 8 + slot))
            let ready = Int.random(in: 0..<5, using: &rng) != 0
            endpoints.append(
                ServiceEndpoint(
                    address: address, port: UInt16(8080 + slot % 2), ready: ready, serving: ready || Bool.random(using: &rng),
                    terminating: !ready, nodeName: Bool.random(using: &rng) ? "node1" : "node2",
                    zoneHints: [Bool.random(using: &rng) ? "zone-a" : "zone-b"]))
        }
        return (info, endpoints.sorted())
    }

    static func ruleset(_ state: State, into synthesizer: inout RuleSynthesizer, previous: State) -> Ruleset {
        for name in previous.keys where state[name] == nil { synthesizer.remove(name) }
        for (info, endpoints) in state.values { synthesizer.update(info, endpoints: endpoints) }
        return synthesizer.ruleset
    }
}

@Suite("RuleSynth against the kernel", .serialized)
struct RuleSynthDiffTests {
    /// Applying the full ruleset of A, then each diff to the next state (with stale chains deleted once
    /// due), leaves the kernel exactly as applying the last state's full ruleset does; and what nft lists
    /// is what `render()` printed.
    @Test("full(A) + diff(A, B) + … equals full(last), in two scratch namespaces")
    func randomDiffs() throws {
        try #require(ScratchNetns.unavailableReason == nil, "skipped: \(ScratchNetns.unavailableReason ?? "")")
        let incremental = try ScratchNetns(area: "synth")
        defer { incremental.delete() }
        let fresh = try ScratchNetns(area: "synth")
        defer { fresh.delete() }

        let seeds = UInt64(ProcessInfo.processInfo.environment["KPROXY_DIFF_SEEDS"] ?? "") ?? 12
        for seed in UInt64(1)...max(1, seeds) {
            var rng = SplitMix64(state: seed)
            var synthesizer = RuleSynthesizer(node: RandomCluster.node)
            var planner = SyncPlanner()
            var previous: RandomCluster.State = [:]
            var now = 0.0
            var last = Ruleset(tables: [])
            for step in 0..<4 {
                let state = RandomCluster.state(&rng)
                last = RandomCluster.ruleset(state, into: &synthesizer, previous: previous)
                previous = state
                let plan = planner.plan(last, now: now)
                #expect(plan.isFull == (step == 0))
                try incremental.apply(plan.transaction.render())
                planner = plan.next
                now += 0.6
            }
            // Due stale-chain deletions, with nothing else changing.
            let cleanup = planner.plan(last, now: now + 1)
            if !cleanup.transaction.isEmpty { try incremental.apply(cleanup.transaction.render()) }
            #expect(cleanup.next.staleChains.isEmpty)
            #expect(cleanup.next.plan(last, now: now + 2).transaction.isEmpty)

            try fresh.apply(SyncPlanner.fullSync(last).render())
            let viaDiffs = ListingCanon.canonical(try incremental.listRuleset())
            let viaFull = ListingCanon.canonical(try fresh.listRuleset())
            #expect(viaDiffs == viaFull, "seed \(seed): diffs and full sync disagree")
            #expect(ListingCanon.canonical(last.render()) == viaFull, "seed \(seed): render() is not what nft lists")
        }
    }
}
