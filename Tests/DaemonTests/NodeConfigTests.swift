import Daemon
import Foundation
import KubeModel
import RuleSynth
import Testing

@Suite("Rule synthesis settings from the configuration and the Node")
struct NodeConfigTests {
    static let node = Node(
        metadata: ObjectMeta(name: "node-a", labels: [Node.zoneLabel: "zone-a"]),
        podCIDRs: [CIDR("10.244.1.0/24")!, CIDR("fd00:10:244:1::/64")!],
        addresses: [
            NodeAddress(type: "Hostname", address: "node-a"), NodeAddress(type: "InternalIP", address: "10.0.0.11"),
            NodeAddress(type: "ExternalIP", address: "203.0.113.11"),
            NodeAddress(type: "InternalIP", address: "fd00::11"),
        ]
    )

    @Test func demoConfigAndNodeGiveTheDemoNodeConfig() throws {
        let file = ConfigurationTests.deploy.appendingPathComponent("examples/demo-config.yaml").path
        let node = try Configuration.load(file: file).nodeConfig(nodeName: "node-a", node: Self.node)
        #expect(node.nodeName == "node-a")
        #expect(node.nodeIPs == [IPAddress("10.0.0.11")!, IPAddress("fd00::11")!], "InternalIPs only")
        #expect(node.nodePortAddresses.map(\.description) == ["10.0.0.11/32", "fd00::11/128"])
        #expect(node.clusterCIDRs.map(\.description) == ["10.244.0.0/16", "fd00:10:244::/56"])
        #expect(node.masqueradeMark == 0x4000 && !node.masqueradeAll)
        #expect(node.zone == "zone-a")
    }

    @Test func nodeCIDRModeUsesThePodCIDRsAndPrimaryMeansNoFilter() {
        var config = Configuration()
        config.detectLocalMode = .nodeCIDR
        config.clusterCIDRs = [CIDR("10.244.0.0/16")!]
        config.masqueradeAll = true
        let node = config.nodeConfig(nodeName: "node-a", node: Self.node)
        #expect(node.clusterCIDRs == Self.node.podCIDRs)
        #expect(node.nodePortAddresses.isEmpty)
        #expect(node.masqueradeAll)
    }

    @Test func externalIPsStandInOnlyWithoutInternalIPsAndNoNodeMeansNoAddresses() {
        let config = Configuration()
        var external = Self.node
        external.addresses = [NodeAddress(type: "ExternalIP", address: "203.0.113.11")]
        #expect(config.nodeConfig(nodeName: "node-a", node: external).nodeIPs == [IPAddress("203.0.113.11")!])
        let missing = config.nodeConfig(nodeName: "node-a", node: nil)
        #expect(missing.nodeIPs.isEmpty && missing.zone == nil)
    }
}
