import ClusterModel
import KubeModel
@testable import RuleSynth

/// Hand-made Service ports and endpoints in the style of upstream's proxier_test.go (ns1/svc1 … ).
enum Fixtures {
    static let nodeName = "node1"
    static let node = NodeConfig(
        nodeName: nodeName, nodeIPs: [ip("192.168.0.2")], clusterCIDRs: [CIDR("10.0.0.0/8")!], zone: "zone-a")
    static let dualNode = NodeConfig(
        nodeName: nodeName, nodeIPs: [ip("192.168.0.2"), ip("fd00::2")],
        clusterCIDRs: [CIDR("10.0.0.0/8")!, CIDR("fd00:10::/64")!], zone: "zone-a")

    static func ip(_ text: String) -> IPAddress { IPAddress(text)! }

    static func port(
        _ ns: String, _ name: String, port: UInt16 = 80, portName: String = "p80", proto: TransportProtocol = .tcp,
        clusterIPs: [String], configure: (inout ServicePortInfo) -> Void = { _ in }
    ) -> ServicePortInfo {
        var info = ServicePortInfo(
            name: ServicePortName(namespace: ns, name: name, port: portName, protocol: proto), port: port,
            clusterIPs: clusterIPs.map(ip))
        configure(&info)
        return info
    }

    static func ep(
        _ address: String, _ port: UInt16 = 80, ready: Bool = true, serving: Bool? = nil, terminating: Bool = false,
        local: Bool = false, zones: [String] = []
    ) -> ServiceEndpoint {
        ServiceEndpoint(
            address: ip(address), port: port, ready: ready, serving: serving, terminating: terminating,
            nodeName: local ? nodeName : "node2", zoneHints: zones)
    }

    static func ruleset(node: NodeConfig = node, _ ports: [(ServicePortInfo, [ServiceEndpoint])]) -> Ruleset {
        var synthesizer = RuleSynthesizer(node: node)
        for (info, endpoints) in ports { synthesizer.update(info, endpoints: endpoints) }
        return synthesizer.ruleset
    }
}
