import ClusterModel
import Foundation
import KubeModel
import Netfilter
import RuleSynth
import Testing

/// Real packets through rules programmed over netlink: a node namespace forwarding between an outside
/// client and three pods, with the demo cluster's kinds of Services. One topology serves every check
/// (building it costs more than all the checks together).
@Suite(
    "Netfilter with real traffic",
    .serialized,
    .enabled(if: NetfilterEnvironment.available, NetfilterEnvironment.skipReason)
)
struct NetfilterTrafficTests {
    @Test func demoServicesCarryRealTraffic() throws {
        let topology = try TrafficTopology()
        var synthesizer = RuleSynthesizer(node: Self.node)
        for (info, endpoints) in Self.ports { synthesizer.update(info, endpoints: endpoints) }
        try NetfilterClient(netns: topology.node.name).apply(SyncPlanner.fullSync(synthesizer.ruleset))
        let checks = Checks(topology: topology)
        try checks.clusterIPSpreadsOverEveryReadyBackend()
        try checks.sessionAffinitySticks()
        try checks.nodePortAnswersOnTheNodeIP()
        try checks.serviceWithoutEndpointsIsRejectedAtOnce()
        try checks.loadBalancerSourceRangesDropOtherSources()
        try checks.externalPolicyLocalDropsWithoutALocalEndpoint()
        try checks.hairpinReachesItselfMasqueraded()
        try checks.udpServiceAnswers()
    }

    static let node = NodeConfig(
        nodeName: "node-a",
        nodeIPs: [IPAddress(TrafficTopology.nodeIP)!],
        nodePortAddresses: [CIDR("\(TrafficTopology.nodeIP)/32")!],
        clusterCIDRs: [CIDR("10.244.0.0/16")!]
    )

    static func port(
        _ name: String,
        _ clusterIP: String,
        port: UInt16 = 80,
        proto: TransportProtocol = .tcp,
        configure: (inout ServicePortInfo) -> Void = { _ in }
    ) -> ServicePortInfo {
        var info = ServicePortInfo(
            name: ServicePortName(namespace: "demo", name: name, port: "p\(port)", protocol: proto),
            port: port,
            clusterIPs: [IPAddress(clusterIP)!]
        )
        configure(&info)
        return info
    }

    static func pod(_ index: Int, port: UInt16 = 8080, local: Bool = true, ready: Bool = true) -> ServiceEndpoint {
        ServiceEndpoint(
            address: IPAddress(TrafficTopology.podIP(index))!,
            port: port,
            ready: ready,
            serving: ready,
            terminating: false,
            nodeName: local ? "node-a" : "node-b",
            zoneHints: []
        )
    }

    /// The demo-style Services this suite exercises.
    static var ports: [(ServicePortInfo, [ServiceEndpoint])] {
        let all = (0..<3).map { pod($0) }
        // Never picked: if it were, requests to it would fail.
        let unready = ServiceEndpoint(
            address: IPAddress("10.244.9.9")!,
            port: 8080,
            ready: false,
            serving: false,
            terminating: false,
            nodeName: "node-a",
            zoneHints: []
        )
        return [
            (
                port("web", "10.96.0.10") {
                    $0.type = .nodePort
                    $0.nodePort = 30080
                }, all + [unready]
            ),
            (port("sticky", "10.96.0.11") { $0.sessionAffinityTimeout = 10800 }, all),
            (port("empty", "10.96.0.12"), []),
            (port("self", "10.96.0.13"), [pod(0)]),
            (port("dns", "10.96.0.14", port: 53, proto: .udp), [pod(1, port: 5353)]),
            (
                port("open-lb", "10.96.0.15") {
                    $0.type = .loadBalancer
                    $0.nodePort = 30082
                    $0.loadBalancerIPs = [IPAddress("192.0.2.10")!]
                    $0.loadBalancerSourceRanges = [CIDR("\(TrafficTopology.clientIP)/32")!]
                }, all
            ),
            (
                port("closed-lb", "10.96.0.16") {
                    $0.type = .loadBalancer
                    $0.nodePort = 30083
                    $0.loadBalancerIPs = [IPAddress("192.0.2.11")!]
                    $0.loadBalancerSourceRanges = [CIDR("198.51.100.0/24")!]
                }, all
            ),
            (
                port("remote-only", "10.96.0.17") {
                    $0.type = .nodePort
                    $0.nodePort = 30081
                    $0.externalPolicyLocal = true
                }, [pod(2, local: false)]
            ),
        ]
    }

}

struct Checks {
    let topology: TrafficTopology

    func clusterIPSpreadsOverEveryReadyBackend() throws {
        let (answers, _) = try topology.fetch("http://10.96.0.10/", from: topology.client, count: 60)
        let names = answers.compactMap { $0.body?.split(separator: " ").first.map(String.init) }
        #expect(names.count == 60)
        #expect(Set(names) == ["pod-1", "pod-2", "pod-3"])
    }

    func sessionAffinitySticks() throws {
        let (answers, _) = try topology.fetch("http://10.96.0.11/", from: topology.client, count: 20)
        let names = Set(answers.compactMap { $0.body?.split(separator: " ").first })
        #expect(answers.allSatisfy { $0.body != nil })
        #expect(names.count == 1)
    }

    func nodePortAnswersOnTheNodeIP() throws {
        let (answers, _) = try topology.fetch(
            "http://\(TrafficTopology.nodeIP):30080/",
            from: topology.client,
            count: 10
        )
        #expect(answers.allSatisfy { $0.body?.hasPrefix("pod-") == true })
    }

    func serviceWithoutEndpointsIsRejectedAtOnce() throws {
        let (answers, seconds) = try topology.fetch("http://10.96.0.12/", from: topology.client, timeout: 3)
        #expect(answers == [.failed(7)])
        #expect(seconds < 1)
    }

    func loadBalancerSourceRangesDropOtherSources() throws {
        let allowed = try topology.fetch("http://192.0.2.10/", from: topology.client)
        #expect(allowed.answers.first?.body?.hasPrefix("pod-") == true)
        let dropped = try topology.fetch("http://192.0.2.11/", from: topology.client)
        #expect(dropped.answers == [.failed(28)])
    }

    func externalPolicyLocalDropsWithoutALocalEndpoint() throws {
        let (answers, _) = try topology.fetch("http://\(TrafficTopology.nodeIP):30081/", from: topology.client)
        #expect(answers == [.failed(28)])
    }

    func hairpinReachesItselfMasqueraded() throws {
        let (answers, _) = try topology.fetch("http://10.96.0.13/", from: topology.pods[0], count: 3)
        // The pod sees the node's address, not its own: without masquerade its reply would bypass the node.
        #expect(answers.allSatisfy { $0.body == "pod-1 10.244.1.1" })
    }

    func udpServiceAnswers() throws {
        #expect(try topology.udp("10.96.0.14", port: 53, payload: "ping", from: topology.client) == "pod-2 ping")
    }
}
