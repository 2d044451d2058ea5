import ClusterModel
import Foundation
import KubeModel
import Testing
@testable import RuleSynth

/// Synthesis and diffing at scale: a one-Service change must cost work in proportion to the change.
/// `KPROXY_SCALE_SERVICES` raises the size (the default keeps `swift test` fast); timings are printed,
/// the benchmarks in bench/ are where they are judged.
@Suite("Scale")
struct ScaleTests {
    static let count = Int(ProcessInfo.processInfo.environment["KPROXY_SCALE_SERVICES"] ?? "") ?? 2000
    static let rounds = Int(ProcessInfo.processInfo.environment["KPROXY_SCALE_ROUNDS"] ?? "") ?? 20

    static func service(_ index: Int, endpoints: Int = 10, generation: Int = 0) -> (ServicePortInfo, [ServiceEndpoint]) {
        let name = ServicePortName(namespace: "ns\(index % 100)", name: "svc\(index)", port: "http", protocol: .tcp)
        var info = ServicePortInfo(name: name, port: 80, clusterIPs: [.v4(0x0A60_0000 + UInt32(index))])
        if index % 4 == 0 {
            info.type = .nodePort
            info.nodePort = UInt16(30000 + index % 2768)
        }
        let eps = (0..<endpoints).map {
            ServiceEndpoint(
                address: .v4(0x0AF4_0000 + UInt32(index * 16 + $0 + generation)), port: 8080,
                nodeName: $0 % 3 == 0 ? Fixtures.nodeName : "node2")
        }
        return (info, eps.sorted())
    }

    @Test("One Service's endpoint change yields only that Service's operations")
    func oneServiceChange() {
        let clock = ContinuousClock()
        var synthesizer = RuleSynthesizer(node: Fixtures.node)
        let fullTime = clock.measure {
            for index in 0..<Self.count {
                let (info, endpoints) = Self.service(index)
                synthesizer.update(info, endpoints: endpoints)
            }
        }
        let before = synthesizer.ruleset
        var plan: SyncPlan?
        var planner = SyncPlanner().plan(before, now: 0).next
        var samples: [Duration] = []
        for round in 1...Self.rounds {
            samples.append(
                clock.measure {
                    let (info, endpoints) = Self.service(7, generation: round % 2)
                    synthesizer.update(info, endpoints: endpoints)
                    plan = planner.plan(synthesizer.ruleset, now: Double(round))
                })
            planner = plan!.next
        }
        let operations = plan?.transaction.operations ?? []
        // Refill one chain (flush + 10 rules) and swap the changed hairpin elements.
        #expect(operations.count <= 14, "\(operations.count) operations for a one-Service change")
        #expect(!operations.contains { if case .addTable = $0 { return true } else { return false } })
        samples.sort()
        print(
            "scale: \(Self.count) services × 10: full synthesis \(fullTime), "
                + "one-Service change + diff median \(samples[samples.count / 2]) (of \(Self.rounds))")
    }

    @Test("Removing and re-adding a Service round-trips to the same ruleset")
    func removeAndReAdd() {
        var synthesizer = RuleSynthesizer(node: Fixtures.node)
        for index in 0..<200 {
            let (info, endpoints) = Self.service(index)
            synthesizer.update(info, endpoints: endpoints)
        }
        let before = synthesizer.ruleset
        let (info, endpoints) = Self.service(42)
        synthesizer.remove(info.name)
        #expect(synthesizer.ruleset != before)
        synthesizer.update(info, endpoints: endpoints)
        #expect(synthesizer.ruleset == before)
        #expect(SyncPlanner().plan(before, now: 0).next.plan(synthesizer.ruleset, now: 1).transaction.isEmpty)
    }
}
