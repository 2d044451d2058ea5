import ClusterModel
import Daemon
import Foundation
import KubeModel
import Netfilter
import RuleSynth
import Testing

/// UDP flows pinned by conntrack to a backend that stopped serving are deleted over ctnetlink, driven by
/// the daemon's ``StaleFlowFilter``, so the client's next datagram reaches a live backend.
@Suite(
    "Netfilter conntrack cleanup",
    .serialized,
    .enabled(if: NetfilterEnvironment.available, NetfilterEnvironment.skipReason)
)
struct NetfilterConntrackTests {
    static let dns = NetfilterTrafficTests.port("dns", "10.96.0.14", port: 53, proto: .udp)

    /// `conntrack -L` in the node: the reply sources of UDP entries to the DNS Service.
    static func replySources(_ topology: TrafficTopology) throws -> [String] {
        let listing = try topology.node.exec(["conntrack", "-L", "-p", "udp", "--orig-dst", "10.96.0.14"])
        return listing.split(separator: "\n").compactMap { line in
            // The second src= is the reply tuple's source.
            line.split(separator: " ").filter { $0.hasPrefix("src=") }.dropFirst().first.map { String($0.dropFirst(4)) }
        }
    }

    @Test func staleUDPFlowsAreDeleted() throws {
        let topology = try TrafficTopology()
        let client = try NetfilterClient(netns: topology.node.name)
        let conntrack = try ConntrackClient(netns: topology.node.name)
        var synthesizer = RuleSynthesizer(node: NetfilterTrafficTests.node)
        var planner = SyncPlanner()
        var now = 0.0
        func sync(_ endpoints: [ServiceEndpoint]) throws -> StaleFlowFilter {
            synthesizer.update(Self.dns, endpoints: endpoints)
            let plan = planner.plan(synthesizer.ruleset, now: now)
            try client.apply(plan.transaction)
            planner = plan.next
            now += 2
            return StaleFlowFilter(ports: [(Self.dns, endpoints)])
        }
        func clean(_ filter: StaleFlowFilter) throws -> [ConntrackEntry] {
            try conntrack.deleteUDPEntries {
                filter.isStale(
                    originalDestination: $0.originalDestination,
                    port: $0.originalDestinationPort,
                    replySource: $0.replySource
                )
            }
        }

        _ = try sync([NetfilterTrafficTests.pod(1, port: 5353)])
        #expect(
            try topology.udp("10.96.0.14", port: 53, payload: "a", from: topology.client, sourcePort: 40000)
                == "pod-2 a"
        )
        #expect(try Self.replySources(topology) == [TrafficTopology.podIP(1)])

        // pod-2 stops serving; the flow stays pinned to it until cleaned.
        let moved = try sync([NetfilterTrafficTests.pod(2, port: 5353)])
        #expect(try Self.replySources(topology) == [TrafficTopology.podIP(1)])
        let deleted = try clean(moved)
        #expect(deleted.map(\.replySource) == [IPAddress(TrafficTopology.podIP(1))!])
        #expect(try Self.replySources(topology) == [])
        #expect(
            try topology.udp("10.96.0.14", port: 53, payload: "b", from: topology.client, sourcePort: 40000)
                == "pod-3 b"
        )

        // A Service that went to zero endpoints has its flows cleared too; nothing else is touched.
        let empty = try sync([])
        #expect(try clean(empty).count == 1)
        #expect(try Self.replySources(topology) == [])
        #expect(try clean(empty).isEmpty)
    }
}
