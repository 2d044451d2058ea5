import ClusterModel
import KubeModel
@testable import RuleSynth

/// One feature's cluster state, for golden files and for the nft round trips.
struct Scenario: Sendable, CustomTestStringConvertible {
    var name: String
    var node: NodeConfig = Fixtures.node
    var ports: [(ServicePortInfo, [ServiceEndpoint])]

    var testDescription: String { name }

    var ruleset: Ruleset { Fixtures.ruleset(node: node, ports) }
}

import Testing

extension Scenario {
    typealias F = Fixtures

    static let all: [Scenario] = [
        Scenario(
            name: "clusterip",
            ports: [
                (F.port("ns1", "svc1", clusterIPs: ["172.30.0.41"]), [F.ep("10.180.0.1")]),
                (
                    F.port("ns4", "svc4", clusterIPs: ["172.30.0.44"]),
                    [F.ep("10.180.0.4"), F.ep("10.180.0.5"), F.ep("10.180.0.6")]
                ),
            ]),
        Scenario(
            name: "dual-stack", node: Fixtures.dualNode,
            ports: [
                (
                    F.port("ns1", "svc1", clusterIPs: ["172.30.0.41", "fd00:30::41"]),
                    [F.ep("10.180.0.1"), F.ep("fd00:180::1"), F.ep("fd00:180::2", 8080)]
                ),
                (F.port("ns2", "v6only", clusterIPs: ["fd00:30::42"]), [F.ep("fd00:180::3")]),
            ]),
        Scenario(
            name: "protocols",
            ports: [
                (F.port("ns1", "dns", port: 53, portName: "dns", proto: .udp, clusterIPs: ["172.30.0.10"]), [F.ep("10.180.0.7", 53)]),
                (F.port("ns1", "dns", port: 53, portName: "dns-tcp", proto: .tcp, clusterIPs: ["172.30.0.10"]), [F.ep("10.180.0.7", 53)]),
                (F.port("ns1", "diameter", port: 3868, portName: "", proto: .sctp, clusterIPs: ["172.30.0.11"]), [F.ep("10.180.0.8", 3868)]),
            ]),
        Scenario(
            name: "nodeport",
            ports: [
                (
                    F.port("ns3", "svc3", clusterIPs: ["172.30.0.43"]) {
                        $0.type = .nodePort
                        $0.nodePort = 3003
                    }, [F.ep("10.180.0.3")]
                )
            ]),
        Scenario(
            name: "nodeport-all-addresses",
            node: NodeConfig(
                nodeName: Fixtures.nodeName, nodeIPs: [F.ip("192.168.0.2")], nodePortAddresses: [CIDR("0.0.0.0/0")!],
                clusterCIDRs: [CIDR("10.0.0.0/8")!]),
            ports: [
                (
                    F.port("ns3", "svc3", clusterIPs: ["172.30.0.43"]) {
                        $0.type = .nodePort
                        $0.nodePort = 3003
                    }, [F.ep("10.180.0.3")]
                )
            ]),
        Scenario(
            name: "externalips",
            ports: [
                (
                    F.port("ns2", "svc2", clusterIPs: ["172.30.0.42"]) { $0.externalIPs = [F.ip("192.168.99.22")] },
                    [F.ep("10.180.0.2")]
                )
            ]),
        Scenario(
            name: "loadbalancer-source-ranges",
            ports: [
                (
                    F.port("ns5", "svc5", clusterIPs: ["172.30.0.45"]) {
                        $0.type = .loadBalancer
                        $0.nodePort = 3002
                        $0.loadBalancerIPs = [F.ip("5.6.7.8")]
                        $0.loadBalancerSourceRanges = [CIDR("203.0.113.0/25")!, CIDR("198.51.100.0/24")!]
                    }, [F.ep("10.180.0.3")]
                ),
                (
                    F.port("ns6", "lb-from-node", clusterIPs: ["172.30.0.46"]) {
                        $0.type = .loadBalancer
                        $0.nodePort = 3006
                        $0.loadBalancerIPs = [F.ip("5.6.7.9")]
                        $0.loadBalancerSourceRanges = [CIDR("192.168.0.0/16")!]
                    }, [F.ep("10.180.0.6")]
                ),
            ]),
        Scenario(
            name: "session-affinity",
            ports: [
                (
                    F.port("ns5", "svc5", clusterIPs: ["172.30.0.45"]) { $0.sessionAffinityTimeout = 10800 },
                    [F.ep("10.180.0.3"), F.ep("10.180.0.4")]
                )
            ]),
        Scenario(
            name: "external-policy-local",
            ports: [
                (
                    F.port("ns2", "local-ep", clusterIPs: ["172.30.0.42"]) {
                        $0.type = .loadBalancer
                        $0.nodePort = 3001
                        $0.loadBalancerIPs = [F.ip("1.2.3.4")]
                        $0.externalPolicyLocal = true
                        $0.healthCheckNodePort = 30000
                    }, [F.ep("10.180.0.2", local: true), F.ep("10.180.1.2")]
                ),
                (
                    F.port("ns2", "svc2", clusterIPs: ["172.30.0.43"]) {
                        $0.type = .loadBalancer
                        $0.nodePort = 3002
                        $0.externalIPs = [F.ip("192.168.99.22")]
                        $0.loadBalancerIPs = [F.ip("1.2.3.5")]
                        $0.externalPolicyLocal = true
                    }, [F.ep("10.180.0.2")]
                ),
            ]),
        Scenario(
            name: "internal-policy-local",
            ports: [
                (
                    F.port("ns1", "with-local", clusterIPs: ["172.30.0.41"]) { $0.internalPolicyLocal = true },
                    [F.ep("10.180.0.1", local: true), F.ep("10.180.0.2")]
                ),
                (
                    F.port("ns1", "without-local", clusterIPs: ["172.30.0.42"]) { $0.internalPolicyLocal = true },
                    [F.ep("10.180.0.3")]
                ),
            ]),
        Scenario(
            name: "no-endpoints",
            ports: [
                (
                    F.port("ns6", "svc6", clusterIPs: ["172.30.0.46"]) {
                        $0.type = .loadBalancer
                        $0.nodePort = 3006
                        $0.externalIPs = [F.ip("192.168.99.26")]
                        $0.loadBalancerIPs = [F.ip("5.6.7.10")]
                    }, []
                ),
                (F.port("ns6", "unready", clusterIPs: ["172.30.0.47"]), [F.ep("10.180.0.9", ready: false)]),
            ]),
        Scenario(
            name: "terminating-fallback",
            ports: [
                (
                    F.port("ns7", "draining", clusterIPs: ["172.30.0.47"]),
                    [
                        F.ep("10.180.0.1", ready: false, serving: true, terminating: true),
                        F.ep("10.180.0.2", ready: false, serving: false, terminating: true),
                    ]
                )
            ]),
        Scenario(
            name: "topology",
            ports: [
                (
                    F.port("ns8", "zoned", clusterIPs: ["172.30.0.48"]) { $0.trafficDistribution = "PreferClose" },
                    [F.ep("10.180.0.1", zones: ["zone-a"]), F.ep("10.180.0.2", zones: ["zone-b"]),
                     F.ep("10.180.0.3", zones: ["zone-a"])]
                )
            ]),
        Scenario(
            name: "masquerade-all",
            node: NodeConfig(
                nodeName: Fixtures.nodeName, nodeIPs: [F.ip("192.168.0.2")], masqueradeBit: 10, masqueradeAll: true),
            ports: [
                (
                    F.port("ns3", "svc3", clusterIPs: ["172.30.0.43"]) {
                        $0.type = .nodePort
                        $0.nodePort = 3003
                        $0.externalPolicyLocal = true
                    }, [F.ep("10.180.0.3", local: true)]
                )
            ]),
    ]
}
