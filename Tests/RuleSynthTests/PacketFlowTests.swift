import ClusterModel
import KubeModel
import RuleSynth
import Testing

/// kube-proxy's packet-flow tests (`pkg/proxy/nftables/proxier_test.go`), ported scenario by scenario and
/// run through ``Tracer`` over the synthesized ruleset.
@Suite("Packet flows ported from kube-proxy's nftables proxier tests")
struct PacketFlowTests {
    typealias C = FlowCluster

    /// Upstream `TestNoEndpointsReject`.
    @Test func noEndpointsReject() throws {
        var cluster = FlowCluster()
        cluster.service(
            "ns1",
            "svc1",
            type: .loadBalancer,
            clusterIPs: ["172.30.0.41"],
            ports: [
                ServicePort(name: "p80", protocol: .tcp, port: 80, nodePort: 3001)
            ]
        ) {
            $0.spec.externalIPs = [ip(C.externalIP)]
            $0.status.loadBalancerIngress = [LoadBalancerIngress(ip: ip("1.2.3.4"))]
        }
        try cluster.expect([
            Flow(
                name: "pod to cluster IP with no endpoints",
                source: "10.0.0.2",
                destination: "172.30.0.41",
                port: 80,
                output: "REJECT"
            ),
            Flow(
                name: "external to external IP with no endpoints",
                source: C.externalClient,
                destination: C.externalIP,
                port: 80,
                output: "REJECT"
            ),
            Flow(
                name: "pod to NodePort with no endpoints",
                source: "10.0.0.2",
                destination: C.nodeIP,
                port: 3001,
                output: "REJECT"
            ),
            Flow(
                name: "external to NodePort with no endpoints",
                source: C.externalClient,
                destination: C.nodeIP,
                port: 3001,
                output: "REJECT"
            ),
            Flow(
                name: "pod to LoadBalancer IP with no endpoints",
                source: "10.0.0.2",
                destination: "1.2.3.4",
                port: 80,
                output: "REJECT"
            ),
            Flow(
                name: "external to LoadBalancer IP with no endpoints",
                source: C.externalClient,
                destination: "1.2.3.4",
                port: 80,
                output: "REJECT"
            ),
        ])
    }

    /// Upstream `TestClusterIPGeneral`: ports, target ports, and TCP, UDP and SCTP on one port number.
    @Test func clusterIPGeneral() throws {
        var cluster = FlowCluster()
        cluster.service("ns1", "svc1", clusterIPs: ["172.30.0.41"], ports: [ServicePort(name: "http", port: 80)])
        cluster.service(
            "ns2",
            "svc2",
            clusterIPs: ["172.30.0.42"],
            ports: [
                ServicePort(name: "http", port: 80),
                ServicePort(name: "https", port: 443, targetPort: .int(8443)),
                ServicePort(name: "dns-udp", protocol: .udp, port: 53),
                ServicePort(name: "dns-tcp", port: 53, targetPort: .int(5353)),
                ServicePort(name: "dns-sctp", protocol: .sctp, port: 53),
            ]
        )
        cluster.slice(
            "ns1",
            "svc1",
            ports: [.init(name: "http", port: 80)],
            endpoints: [endpoint("10.180.0.1", node: C.nodeName)]
        )
        cluster.slice(
            "ns2",
            "svc2",
            ports: [
                .init(name: "http", port: 80), .init(name: "https", port: 8443),
                .init(name: "dns-udp", protocol: .udp, port: 53), .init(name: "dns-tcp", port: 5353),
                .init(name: "dns-sctp", protocol: .sctp, port: 53),
            ],
            endpoints: [endpoint("10.180.0.1", node: C.nodeName), endpoint("10.180.2.1", node: "node2")]
        )
        try cluster.expect([
            Flow(
                name: "simple clusterIP",
                source: "10.180.0.2",
                destination: "172.30.0.41",
                port: 80,
                output: "10.180.0.1:80"
            ),
            Flow(
                name: "hairpin to cluster IP",
                source: "10.180.0.1",
                destination: "172.30.0.41",
                port: 80,
                output: "10.180.0.1:80",
                masq: true
            ),
            Flow(
                name: "clusterIP with multiple endpoints",
                source: "10.180.0.2",
                destination: "172.30.0.42",
                port: 80,
                output: "10.180.0.1:80, 10.180.2.1:80"
            ),
            Flow(
                name: "clusterIP with TargetPort",
                source: "10.180.0.2",
                destination: "172.30.0.42",
                port: 443,
                output: "10.180.0.1:8443, 10.180.2.1:8443"
            ),
            Flow(
                name: "TCP on a port shared with UDP and SCTP",
                source: "10.180.0.2",
                destination: "172.30.0.42",
                port: 53,
                output: "10.180.0.1:5353, 10.180.2.1:5353"
            ),
            Flow(
                name: "UDP on a port shared with TCP and SCTP",
                source: "10.180.0.2",
                destination: "172.30.0.42",
                port: 53,
                proto: .udp,
                output: "10.180.0.1:53, 10.180.2.1:53"
            ),
            Flow(
                name: "SCTP on a port shared with TCP and UDP",
                source: "10.180.0.2",
                destination: "172.30.0.42",
                port: 53,
                proto: .sctp,
                output: "10.180.0.1:53, 10.180.2.1:53"
            ),
            Flow(
                name: "TCP-only port does not match UDP traffic",
                source: "10.180.0.2",
                destination: "172.30.0.42",
                port: 80,
                proto: .udp,
                output: "REJECT"
            ),
            Flow(
                name: "svc1 does not accept svc2's ports",
                source: "10.180.0.2",
                destination: "172.30.0.41",
                port: 443,
                output: "REJECT"
            ),
        ])
    }

    /// Upstream `TestLoadBalancer`: LB IPs with `loadBalancerSourceRanges`.
    @Test func loadBalancerSourceRanges() throws {
        var cluster = FlowCluster()
        cluster.service(
            "ns1",
            "svc1",
            type: .loadBalancer,
            clusterIPs: ["172.30.0.41"],
            ports: [
                ServicePort(name: "p80", port: 80, nodePort: 3001)
            ]
        ) {
            $0.status.loadBalancerIngress = [
                LoadBalancerIngress(ip: ip("1.2.3.4")), LoadBalancerIngress(ip: ip("5.6.7.8")),
            ]
            $0.spec.loadBalancerSourceRanges = [cidr("192.168.0.0/24"), cidr("203.0.113.0/25")]
        }
        cluster.slice("ns1", "svc1", ports: [.init(name: "p80", port: 80)], endpoints: [endpoint("10.180.0.1")])
        let ep = "10.180.0.1:80"
        try cluster.expect([
            Flow(name: "pod to cluster IP", source: "10.0.0.2", destination: "172.30.0.41", port: 80, output: ep),
            Flow(
                name: "external to nodePort",
                source: C.externalClient,
                destination: C.nodeIP,
                port: 3001,
                output: ep,
                masq: true
            ),
            Flow(
                name: "nodePort bypasses LoadBalancerSourceRanges",
                source: C.externalClientBlocked,
                destination: C.nodeIP,
                port: 3001,
                output: ep,
                masq: true
            ),
            Flow(
                name: "accepted external to LB1",
                source: C.externalClient,
                destination: "1.2.3.4",
                port: 80,
                output: ep,
                masq: true
            ),
            Flow(
                name: "accepted external to LB2",
                source: C.externalClient,
                destination: "5.6.7.8",
                port: 80,
                output: ep,
                masq: true
            ),
            Flow(
                name: "blocked external to LB1",
                source: C.externalClientBlocked,
                destination: "1.2.3.4",
                port: 80,
                output: "DROP"
            ),
            Flow(
                name: "blocked external to LB2",
                source: C.externalClientBlocked,
                destination: "5.6.7.8",
                port: 80,
                output: "DROP"
            ),
            Flow(
                name: "pod to LB1 (blocked by LoadBalancerSourceRanges)",
                source: "10.0.0.2",
                destination: "1.2.3.4",
                port: 80,
                output: "DROP"
            ),
            Flow(
                name: "pod to LB2 (blocked by LoadBalancerSourceRanges)",
                source: "10.0.0.2",
                destination: "5.6.7.8",
                port: 80,
                output: "DROP"
            ),
            Flow(
                name: "node to LB1 (allowed by LoadBalancerSourceRanges)",
                source: C.nodeIP,
                destination: "1.2.3.4",
                port: 80,
                output: ep,
                masq: true
            ),
            Flow(
                name: "node to LB2 (allowed by LoadBalancerSourceRanges)",
                source: C.nodeIP,
                destination: "5.6.7.8",
                port: 80,
                output: ep,
                masq: true
            ),
            Flow(
                name: "same node to LB1, SNATted to LB1 (implicitly allowed)",
                source: "1.2.3.4",
                destination: "1.2.3.4",
                port: 80,
                output: ep,
                masq: true
            ),
            Flow(
                name: "same node to LB2, SNATted to LB2 (implicitly allowed)",
                source: "5.6.7.8",
                destination: "5.6.7.8",
                port: 80,
                output: ep,
                masq: true
            ),
        ])
    }

    /// Upstream `TestNodePorts`: which node addresses accept NodePorts, for each family.
    @Test(arguments: [
        (IPAddress.Family.ipv4, false), (.ipv4, true), (.ipv6, false), (.ipv6, true),
    ])
    func nodePorts(family: IPAddress.Family, multipleAddresses: Bool) throws {
        var cluster = FlowCluster()
        let v4 = family == .ipv4
        if multipleAddresses {
            cluster.node.nodeIPs = FlowCluster.localAddresses
            cluster.node.nodePortAddresses =
                v4
                ? [cidr("192.168.0.0/24"), cidr("192.168.1.0/24"), cidr("2001:db8::/64")]
                : [cidr("192.168.0.0/24"), cidr("192.168.1.0/24"), cidr("2001:db8::/64"), cidr("2001:db8:1::2/128")]
        }
        let svcIP = v4 ? "172.30.0.41" : "fd00:172:30::41"
        let (ep1, ep2) = v4 ? ("10.180.0.1", "10.180.2.1") : ("fd00:10:180::1", "fd00:10:180::2:1")
        cluster.service(
            "ns1",
            "svc1",
            type: .nodePort,
            clusterIPs: [svcIP],
            ports: [
                ServicePort(name: "p80", port: 80, nodePort: 3001)
            ]
        )
        cluster.slice(
            "ns1",
            "svc1",
            family: v4 ? .ipv4 : .ipv6,
            ports: [.init(name: "p80", port: 80)],
            endpoints: [
                endpoint(ep1), endpoint(ep2, node: C.nodeName),
            ]
        )
        let podIP = v4 ? "10.0.0.2" : "fd00:10::2"
        let externalClient = v4 ? C.externalClient : "2600:5200::1"
        let nodeIP = v4 ? C.nodeIP : C.nodeIPv6
        let altNodeIP = v4 ? C.nodeIPAlt : C.nodeIPv6Alt
        let output = v4 ? "10.180.0.1:80, 10.180.2.1:80" : "[fd00:10:180::1]:80, [fd00:10:180::2:1]:80"
        try cluster.expect([
            Flow(name: "pod to cluster IP", source: podIP, destination: svcIP, port: 80, output: output),
            Flow(
                name: "external to nodePort",
                source: externalClient,
                destination: nodeIP,
                port: 3001,
                output: output,
                masq: true
            ),
            Flow(name: "node to nodePort", source: nodeIP, destination: nodeIP, port: 3001, output: output, masq: true),
            multipleAddresses
                ? Flow(
                    name: "external to nodePort on secondary IP",
                    source: externalClient,
                    destination: altNodeIP,
                    port: 3001,
                    output: output,
                    masq: true
                )
                : Flow(
                    name: "secondary nodeIP ignores NodePorts",
                    source: externalClient,
                    destination: altNodeIP,
                    port: 3001,
                    output: "ACCEPT"
                ),
        ])
    }

    /// Upstream `TestExternalTrafficPolicyLocal`: external traffic stays local and keeps its source.
    @Test func externalTrafficPolicyLocal() throws {
        let cluster = Self.externalPolicyCluster(local: true)
        let both = "10.180.0.1:80, 10.180.2.1:80"
        try cluster.expect([
            Flow(
                name: "pod to cluster IP hits both endpoints, unmasqueraded",
                source: "10.0.0.2",
                destination: "172.30.0.41",
                port: 80,
                output: both
            ),
            Flow(
                name: "pod to external IP hits both endpoints, unmasqueraded",
                source: "10.0.0.2",
                destination: C.externalIP,
                port: 80,
                output: both
            ),
            Flow(
                name: "external to external IP hits only local endpoint, unmasqueraded",
                source: C.externalClient,
                destination: C.externalIP,
                port: 80,
                output: "10.180.2.1:80"
            ),
            Flow(
                name: "pod to LB IP hits only both endpoints, unmasqueraded",
                source: "10.0.0.2",
                destination: "1.2.3.4",
                port: 80,
                output: both
            ),
            Flow(
                name: "external to LB IP hits only local endpoint, unmasqueraded",
                source: C.externalClient,
                destination: "1.2.3.4",
                port: 80,
                output: "10.180.2.1:80"
            ),
            Flow(
                name: "pod to NodePort hits both endpoints, unmasqueraded",
                source: "10.0.0.2",
                destination: C.nodeIP,
                port: 3001,
                output: both
            ),
            Flow(
                name: "external to NodePort hits only local endpoint, unmasqueraded",
                source: C.externalClient,
                destination: C.nodeIP,
                port: 3001,
                output: "10.180.2.1:80"
            ),
        ])
    }

    /// Upstream `TestExternalTrafficPolicyCluster`: external traffic is masqueraded and goes anywhere.
    @Test func externalTrafficPolicyCluster() throws {
        let cluster = Self.externalPolicyCluster(local: false)
        let both = "10.180.0.1:80, 10.180.2.1:80"
        try cluster.expect([
            Flow(
                name: "pod to cluster IP hits both endpoints, unmasqueraded",
                source: "10.0.0.2",
                destination: "172.30.0.41",
                port: 80,
                output: both
            ),
            Flow(
                name: "pod to external IP hits both endpoints, masqueraded",
                source: "10.0.0.2",
                destination: C.externalIP,
                port: 80,
                output: both,
                masq: true
            ),
            Flow(
                name: "external to external IP hits both endpoints, masqueraded",
                source: C.externalClient,
                destination: C.externalIP,
                port: 80,
                output: both,
                masq: true
            ),
            Flow(
                name: "pod to LB IP hits both endpoints, masqueraded",
                source: "10.0.0.2",
                destination: "1.2.3.4",
                port: 80,
                output: both,
                masq: true
            ),
            Flow(
                name: "external to LB IP hits both endpoints, masqueraded",
                source: C.externalClient,
                destination: "1.2.3.4",
                port: 80,
                output: both,
                masq: true
            ),
            Flow(
                name: "pod to NodePort hits both endpoints, masqueraded",
                source: "10.0.0.2",
                destination: C.nodeIP,
                port: 3001,
                output: both,
                masq: true
            ),
            Flow(
                name: "external to NodePort hits both endpoints, masqueraded",
                source: C.externalClient,
                destination: C.nodeIP,
                port: 3001,
                output: both,
                masq: true
            ),
        ])
    }

    /// `nodePortAddresses: [0.0.0.0/0]` (upstream's "all"): every local address but loopback takes NodePorts.
    @Test func nodePortsOnAllLocalAddresses() throws {
        var cluster = FlowCluster()
        cluster.node.nodePortAddresses = [cidr("0.0.0.0/0")]
        cluster.service(
            "ns1",
            "svc1",
            type: .nodePort,
            clusterIPs: ["172.30.0.41"],
            ports: [
                ServicePort(name: "p80", port: 80, nodePort: 3001)
            ]
        )
        cluster.slice("ns1", "svc1", ports: [.init(name: "p80", port: 80)], endpoints: [endpoint("10.180.0.1")])
        try cluster.expect([
            Flow(
                name: "primary IP",
                source: C.externalClient,
                destination: C.nodeIP,
                port: 3001,
                output: "10.180.0.1:80",
                masq: true
            ),
            Flow(
                name: "secondary IP",
                source: C.externalClient,
                destination: C.nodeIPAlt,
                port: 3001,
                output: "10.180.0.1:80",
                masq: true
            ),
            Flow(name: "node to loopback", source: C.nodeIP, destination: "127.0.0.1", port: 3001, output: "ACCEPT"),
            Flow(
                name: "not a local address",
                source: C.externalClient,
                destination: "192.168.0.77",
                port: 3001,
                output: "ACCEPT"
            ),
        ])
    }

    static func externalPolicyCluster(local: Bool) -> FlowCluster {
        var cluster = FlowCluster()
        cluster.service(
            "ns1",
            "svc1",
            type: .loadBalancer,
            clusterIPs: ["172.30.0.41"],
            ports: [
                ServicePort(name: "p80", port: 80, targetPort: .int(80), nodePort: 3001)
            ]
        ) {
            $0.spec.externalIPs = [ip(C.externalIP)]
            $0.spec.externalTrafficPolicy = local ? .local : .cluster
            $0.spec.healthCheckNodePort = local ? 30000 : nil
            $0.status.loadBalancerIngress = [LoadBalancerIngress(ip: ip("1.2.3.4"))]
        }
        cluster.slice(
            "ns1",
            "svc1",
            ports: [.init(name: "p80", port: 80)],
            endpoints: [
                endpoint("10.180.0.1"), endpoint("10.180.2.1", node: C.nodeName),
            ]
        )
        return cluster
    }
}
