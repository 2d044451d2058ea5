import ClusterModel
import KubeModel
import RuleSynth
import Testing

/// Traffic policies, terminating endpoints and masquerading, from upstream's proxier tests.
@Suite("Packet flows: traffic policies, terminating endpoints, masquerade")
struct PolicyFlowTests {
    typealias C = FlowCluster

    /// Upstream `TestInternalTrafficPolicy`, including the REJECT once the endpoints are gone.
    @Test(arguments: [
        ("cluster", false, [C.nodeName, "node1", "node2"], "10.0.1.1:80, 10.0.1.2:80, 10.0.1.3:80"),
        ("local, one local endpoint", true, [C.nodeName, "node1", "node2"], "10.0.1.1:80"),
        ("local, two local endpoints", true, [C.nodeName, C.nodeName, "node2"], "10.0.1.1:80, 10.0.1.2:80"),
        ("local, no local endpoints", true, ["node0", "node1", "node2"], "DROP"),
    ])
    func internalTrafficPolicy(name: String, local: Bool, nodes: [String], output: String) throws {
        var cluster = FlowCluster()
        cluster.service("ns1", "svc1", clusterIPs: ["172.30.1.1"], ports: [ServicePort(port: 80)]) {
            $0.spec.internalTrafficPolicy = local ? .local : .cluster
        }
        try cluster.expect([
            Flow(
                name: "\(name): endpoints not yet known",
                source: "10.0.0.2",
                destination: "172.30.1.1",
                port: 80,
                output: "REJECT"
            )
        ])
        cluster.slice(
            "ns1",
            "svc1",
            ports: [.init(port: 80)],
            endpoints: nodes.enumerated().map { index, node in
                endpoint("10.0.1.\(index + 1)", node: node)
            }
        )
        try cluster.expect([
            Flow(name: name, source: "10.0.0.2", destination: "172.30.1.1", port: 80, output: output)
        ])
    }

    /// The Service of upstream's `TestTerminatingEndpointsTrafficPolicy{Local,Cluster}`.
    static func terminatingCluster(local: Bool, endpoints: [EndpointSlice.Endpoint]) -> FlowCluster {
        var cluster = FlowCluster()
        cluster.service(
            "ns1",
            "svc1",
            type: .loadBalancer,
            clusterIPs: ["172.30.1.1"],
            ports: [
                ServicePort(port: 80, targetPort: .int(80))
            ]
        ) {
            $0.spec.externalTrafficPolicy = local ? .local : .cluster
            $0.spec.healthCheckNodePort = 30000
            $0.status.loadBalancerIngress = [LoadBalancerIngress(ip: ip("1.2.3.4"))]
        }
        if !endpoints.isEmpty { cluster.slice("ns1", "svc1", ports: [.init(port: 80)], endpoints: endpoints) }
        return cluster
    }

    static let readyLocal = [endpoint("10.0.1.1", node: C.nodeName), endpoint("10.0.1.2", node: C.nodeName)]
    static let servingTerminatingLocal = [
        endpoint("10.0.1.2", node: C.nodeName, ready: false, serving: true, terminating: true),
        endpoint("10.0.1.3", node: C.nodeName, ready: false, serving: true, terminating: true),
    ]
    static let notServingLocal = endpoint("10.0.1.4", node: C.nodeName, ready: false, serving: false, terminating: true)

    /// Upstream `TestTerminatingEndpointsTrafficPolicyLocal`.
    @Test func terminatingEndpointsUnderLocalPolicy() throws {
        let cases: [(String, [EndpointSlice.Endpoint], clusterIP: String, external: String)] = [
            (
                "ready endpoints exist",
                Self.readyLocal + [
                    endpoint("10.0.1.3", node: C.nodeName, ready: false, serving: true, terminating: true),
                    Self.notServingLocal, endpoint("10.0.1.5", node: "node-1"),
                ], "10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80", "10.0.1.1:80, 10.0.1.2:80"
            ),
            (
                "only terminating endpoints exist",
                Self.servingTerminatingLocal + [Self.notServingLocal, endpoint("10.0.1.5", node: "node-1")],
                "10.0.1.5:80", "10.0.1.2:80, 10.0.1.3:80"
            ),
            (
                "terminating endpoints on remote node",
                [endpoint("10.0.1.5", node: "node-1", ready: false, serving: true, terminating: true)],
                "10.0.1.5:80", "DROP"
            ),
            (
                "no usable endpoints on any node",
                [
                    Self.notServingLocal,
                    endpoint("10.0.1.5", node: "node-1", ready: false, serving: false, terminating: true),
                ],
                "REJECT", "REJECT"
            ),
        ]
        for (name, endpoints, clusterIP, external) in cases {
            try Self.terminatingCluster(local: true, endpoints: endpoints).expect([
                Flow(
                    name: "\(name): pod to clusterIP",
                    source: "10.0.0.2",
                    destination: "172.30.1.1",
                    port: 80,
                    output: clusterIP
                ),
                Flow(
                    name: "\(name): external to LB",
                    source: C.externalClient,
                    destination: "1.2.3.4",
                    port: 80,
                    output: external
                ),
            ])
        }
        try Self.terminatingCluster(local: true, endpoints: []).expect([
            Flow(
                name: "pod to clusterIP after endpoints deleted",
                source: "10.0.0.2",
                destination: "172.30.1.1",
                port: 80,
                output: "REJECT"
            ),
            Flow(
                name: "external to LB after endpoints deleted",
                source: C.externalClient,
                destination: "1.2.3.4",
                port: 80,
                output: "REJECT"
            ),
        ])
    }

    /// Upstream `TestTerminatingEndpointsTrafficPolicyCluster`.
    @Test func terminatingEndpointsUnderClusterPolicy() throws {
        let cases: [(String, [EndpointSlice.Endpoint], String)] = [
            (
                "ready endpoints exist",
                Self.readyLocal + [
                    endpoint("10.0.1.3", node: "another-node", ready: false, serving: true, terminating: true),
                    endpoint("10.0.1.4", node: "another-node", ready: false, serving: false, terminating: true),
                    endpoint("10.0.1.5", node: "another-node"),
                ], "10.0.1.1:80, 10.0.1.2:80, 10.0.1.5:80"
            ),
            (
                "only terminating endpoints exist",
                Self.servingTerminatingLocal + [
                    endpoint("10.0.1.4", node: "another-node", ready: false, serving: false, terminating: true),
                    endpoint("10.0.1.5", node: "another-node", ready: false, serving: true, terminating: true),
                ], "10.0.1.2:80, 10.0.1.3:80, 10.0.1.5:80"
            ),
            (
                "terminating endpoints on remote node",
                [endpoint("10.0.1.5", node: "node-1", ready: false, serving: true, terminating: true)], "10.0.1.5:80"
            ),
        ]
        for (name, endpoints, output) in cases {
            try Self.terminatingCluster(local: false, endpoints: endpoints).expect([
                Flow(
                    name: "\(name): pod to clusterIP",
                    source: "10.0.0.2",
                    destination: "172.30.1.1",
                    port: 80,
                    output: output
                ),
                Flow(
                    name: "\(name): external to LB",
                    source: C.externalClient,
                    destination: "1.2.3.4",
                    port: 80,
                    output: output,
                    masq: true
                ),
            ])
        }
        let unusable = [
            endpoint("10.0.1.5", node: C.nodeName, ready: false, serving: false, terminating: true),
            endpoint("10.0.1.5", node: "node-1", ready: false, serving: false, terminating: true),
        ]
        for endpoints in [unusable, []] {
            try Self.terminatingCluster(local: false, endpoints: endpoints).expect([
                Flow(
                    name: "pod to clusterIP, no usable endpoints",
                    source: "10.0.0.2",
                    destination: "172.30.1.1",
                    port: 80,
                    output: "REJECT"
                ),
                Flow(
                    name: "external to LB, no usable endpoints",
                    source: C.externalClient,
                    destination: "1.2.3.4",
                    port: 80,
                    output: "REJECT"
                ),
            ])
        }
    }

    /// Upstream `TestInternalExternalMasquerade`: every source kind to every address kind, under eTP and
    /// iTP Local, with and without a local-traffic detector (cluster CIDRs) and masqueradeAll.
    @Test(arguments: [(true, false), (false, false), (true, true), (false, true)])
    func internalExternalMasquerade(localDetector: Bool, masqueradeAll: Bool) throws {
        var cluster = FlowCluster()
        cluster.node.masqueradeAll = masqueradeAll
        if !localDetector { cluster.node.clusterCIDRs = [] }
        for (index, (lb, etpLocal, itpLocal)) in [
            ("1.2.3.4", false, false), ("5.6.7.8", true, false), ("9.10.11.12", false, true),
        ].enumerated() {
            let n = index + 1
            cluster.service(
                "ns\(n)",
                "svc\(n)",
                type: .loadBalancer,
                clusterIPs: ["172.30.0.4\(n)"],
                ports: [
                    ServicePort(name: "p80", port: 80, nodePort: PortNumber(3000 + n))
                ]
            ) {
                $0.spec.healthCheckNodePort = PortNumber(30000 + n)
                $0.spec.externalTrafficPolicy = etpLocal ? .local : .cluster
                $0.spec.internalTrafficPolicy = itpLocal ? .local : .cluster
                $0.status.loadBalancerIngress = [LoadBalancerIngress(ip: ip(lb))]
            }
            cluster.slice(
                "ns\(n)",
                "svc\(n)",
                ports: [.init(name: "p80", port: 80)],
                endpoints: [
                    endpoint("10.180.0.\(n)", node: C.nodeName), endpoint("10.180.1.\(n)", node: "remote"),
                ]
            )
        }
        let all1 = "10.180.0.1:80, 10.180.1.1:80"
        let all2 = "10.180.0.2:80, 10.180.1.2:80"
        let all3 = "10.180.0.3:80, 10.180.1.3:80"
        var flows = [
            Flow(name: "pod to ClusterIP", source: "10.0.0.2", destination: "172.30.0.41", port: 80, output: all1),
            Flow(
                name: "pod to NodePort",
                source: "10.0.0.2",
                destination: C.nodeIP,
                port: 3001,
                output: all1,
                masq: true
            ),
            Flow(name: "pod to LB", source: "10.0.0.2", destination: "1.2.3.4", port: 80, output: all1, masq: true),
            Flow(
                name: "node to ClusterIP",
                source: C.nodeIP,
                destination: "172.30.0.41",
                port: 80,
                output: all1,
                masq: true
            ),
            Flow(
                name: "node to NodePort",
                source: C.nodeIP,
                destination: C.nodeIP,
                port: 3001,
                output: all1,
                masq: true
            ),
            Flow(name: "node to LB", source: C.nodeIP, destination: "1.2.3.4", port: 80, output: all1, masq: true),
            Flow(
                name: "external to ClusterIP",
                source: C.externalClient,
                destination: "172.30.0.41",
                port: 80,
                output: all1,
                masq: true
            ),
            Flow(
                name: "external to NodePort",
                source: C.externalClient,
                destination: C.nodeIP,
                port: 3001,
                output: all1,
                masq: true
            ),
            Flow(
                name: "external to LB",
                source: C.externalClient,
                destination: "1.2.3.4",
                port: 80,
                output: all1,
                masq: true
            ),
            Flow(
                name: "pod to ClusterIP with eTP:Local",
                source: "10.0.0.2",
                destination: "172.30.0.42",
                port: 80,
                output: all2
            ),
            Flow(
                name: "pod to NodePort with eTP:Local",
                source: "10.0.0.2",
                destination: C.nodeIP,
                port: 3002,
                output: all2
            ),
            Flow(name: "pod to LB with eTP:Local", source: "10.0.0.2", destination: "5.6.7.8", port: 80, output: all2),
            Flow(
                name: "node to ClusterIP with eTP:Local",
                source: C.nodeIP,
                destination: "172.30.0.42",
                port: 80,
                output: all2,
                masq: true
            ),
            Flow(
                name: "node to NodePort with eTP:Local",
                source: C.nodeIP,
                destination: C.nodeIP,
                port: 3001,
                output: all1,
                masq: true
            ),
            Flow(
                name: "node to LB with eTP:Local",
                source: C.nodeIP,
                destination: "5.6.7.8",
                port: 80,
                output: all2,
                masq: true
            ),
            Flow(
                name: "external to ClusterIP with eTP:Local",
                source: C.externalClient,
                destination: "172.30.0.42",
                port: 80,
                output: all2,
                masq: true
            ),
            Flow(
                name: "external to NodePort with eTP:Local",
                source: C.externalClient,
                destination: C.nodeIP,
                port: 3002,
                output: "10.180.0.2:80"
            ),
            Flow(
                name: "external to LB with eTP:Local",
                source: C.externalClient,
                destination: "5.6.7.8",
                port: 80,
                output: "10.180.0.2:80"
            ),
            Flow(
                name: "pod to ClusterIP with iTP:Local",
                source: "10.0.0.2",
                destination: "172.30.0.43",
                port: 80,
                output: "10.180.0.3:80"
            ),
            Flow(
                name: "pod to NodePort with iTP:Local",
                source: "10.0.0.2",
                destination: C.nodeIP,
                port: 3003,
                output: all3,
                masq: true
            ),
            Flow(
                name: "pod to LB with iTP:Local",
                source: "10.0.0.2",
                destination: "9.10.11.12",
                port: 80,
                output: all3,
                masq: true
            ),
            Flow(
                name: "node to ClusterIP with iTP:Local",
                source: C.nodeIP,
                destination: "172.30.0.43",
                port: 80,
                output: "10.180.0.3:80",
                masq: true
            ),
            Flow(
                name: "node to NodePort with iTP:Local",
                source: C.nodeIP,
                destination: C.nodeIP,
                port: 3003,
                output: all3,
                masq: true
            ),
            Flow(
                name: "node to LB with iTP:Local",
                source: C.nodeIP,
                destination: "9.10.11.12",
                port: 80,
                output: all3,
                masq: true
            ),
            Flow(
                name: "external to ClusterIP with iTP:Local",
                source: C.externalClient,
                destination: "172.30.0.43",
                port: 80,
                output: "10.180.0.3:80",
                masq: true
            ),
            Flow(
                name: "external to NodePort with iTP:Local",
                source: C.externalClient,
                destination: C.nodeIP,
                port: 3003,
                output: all3,
                masq: true
            ),
            Flow(
                name: "external to LB with iTP:Local",
                source: C.externalClient,
                destination: "9.10.11.12",
                port: 80,
                output: all3,
                masq: true
            ),
        ]
        func override(_ name: String, output: String? = nil, masq: Bool? = nil) {
            guard let index = flows.firstIndex(where: { $0.name == name }) else {
                Issue.record("no flow named \(name)")
                return
            }
            if let output { flows[index].output = output }
            if let masq { flows[index].masq = masq }
        }
        if !localDetector {
            // Without a detector all ClusterIP traffic counts as pod traffic (unless masqueradeAll), and
            // nothing short-circuits.
            for name in ["node to ClusterIP", "external to ClusterIP"] where !masqueradeAll {
                for suffix in ["", " with eTP:Local", " with iTP:Local"] { override(name + suffix, masq: false) }
            }
            override("pod to NodePort with eTP:Local", output: "10.180.0.2:80")
            override("pod to LB with eTP:Local", output: "10.180.0.2:80")
        }
        if masqueradeAll {
            for suffix in ["", " with eTP:Local", " with iTP:Local"] {
                override("pod to ClusterIP" + suffix, masq: true)
            }
        }
        try cluster.expect(flows)
    }
}
