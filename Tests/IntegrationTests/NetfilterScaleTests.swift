import ClusterModel
import Foundation
import KubeModel
import Netfilter
import RuleSynth
import Testing

/// The full sync of a large cluster goes to the kernel as one atomic batch, and a one-Service change on top
/// of it as a small one.
@Suite(
    "Netfilter at scale",
    .serialized,
    .enabled(if: NetfilterEnvironment.available, NetfilterEnvironment.skipReason)
)
struct NetfilterScaleTests {
    /// `services` ClusterIP Services of 10 endpoints each (every tenth of the first 2,000 a NodePort).
    static func synthesizer(services: Int) -> RuleSynthesizer {
        var synthesizer = RuleSynthesizer(node: Fixtures.node)
        for index in 0..<services {
            synthesizer.update(port(index), endpoints: endpoints(index))
        }
        return synthesizer
    }

    static func port(_ index: Int) -> ServicePortInfo {
        var info = ServicePortInfo(
            name: ServicePortName(namespace: "ns-\(index % 100)", name: "svc-\(index)", port: "http", protocol: .tcp),
            port: 80,
            clusterIPs: [.v4(0x0A60_0001 &+ UInt32(index))]
        )
        if index < 2000, index % 10 == 0 {
            info.type = .nodePort
            info.nodePort = UInt16(30000 + index / 10)
        }
        return info
    }

    static func endpoints(_ index: Int, generation: UInt32 = 0) -> [ServiceEndpoint] {
        (0..<10).map { position in
            ServiceEndpoint(
                address: .v4(0x0A80_0000 &+ UInt32(index * 10 + position) &+ generation << 20),
                port: 8080,
                ready: true,
                serving: true,
                terminating: false,
                nodeName: position == 0 ? "node1" : "node2",
                zoneHints: []
            )
        }
    }

    @Test func tenThousandServicesInOneBatchThenAOneServiceChange() throws {
        let namespace = try ScratchNamespace()
        let client = try NetfilterClient(netns: namespace.name)
        var clock = ContinuousClock.now
        var synthesizer = Self.synthesizer(services: 10_000)
        let synthesis = ContinuousClock.now - clock
        let plan = SyncPlanner().plan(synthesizer.ruleset, now: 0)
        let batch = try NetlinkBatch(plan.transaction)
        clock = ContinuousClock.now
        try client.send(batch)
        let full = ContinuousClock.now - clock
        clock = ContinuousClock.now
        let table = try #require(try client.table(.ip, named: "kproxy"))
        let readback = ContinuousClock.now - clock
        #expect(table.chains.count > 10_000)
        #expect(table.sets["service-ips"]?.elementCount == 10_000)

        synthesizer.update(Self.port(5_000), endpoints: Self.endpoints(5_000, generation: 1))
        let change = plan.next.plan(synthesizer.ruleset, now: 1)
        #expect(!change.isFull)
        clock = ContinuousClock.now
        try client.apply(change.transaction)
        let one = ContinuousClock.now - clock
        print(
            "10k Services: synthesis \(synthesis), full sync \(batch.messages.count) messages / \(batch.bytes.count) "
                + "bytes sent and acknowledged in \(full), read back in \(readback); one-Service change of "
                + "\(change.transaction.operations.count) operations in \(one)"
        )
    }
}
