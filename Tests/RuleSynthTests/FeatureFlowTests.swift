import ClusterModel
import KubeModel
import RuleSynth
import Testing

/// Packet flows for the features upstream tests by rule text rather than by flow: session affinity,
/// topology, dual-stack, Services that get no rules, and the load-balancing probabilities.
@Suite("Packet flows: affinity, topology, dual-stack, no-rule Services")
struct FeatureFlowTests {
    typealias C = FlowCluster

    static func packet(
        _ source: String,
        _ destination: String,
        _ port: UInt16,
        proto: TransportProtocol = .tcp
    )
        -> Tracer.Packet
    {
        Flow(name: "", source: source, destination: destination, port: port, proto: proto, output: "").packet
    }

    static func affinityCluster() -> FlowCluster {
        var cluster = FlowCluster()
        cluster.service(
            "ns5",
            "svc5",
            type: .nodePort,
            clusterIPs: ["172.30.0.45"],
            ports: [
                ServicePort(name: "p80", port: 80, nodePort: 3002)
            ]
        ) {
            $0.spec.sessionAffinity = .clientIP
            $0.spec.sessionAffinityTimeoutSeconds = 10800
        }
        cluster.slice(
            "ns5",
            "svc5",
            ports: [.init(name: "p80", port: 80)],
            endpoints: [
                endpoint("10.180.0.1"), endpoint("10.180.0.2"), endpoint("10.180.0.3", node: C.nodeName),
            ]
        )
        return cluster
    }

    @Test func sessionAffinityPinsAClientToTheEndpointItFirstReached() throws {
        let tracer = try Self.affinityCluster().tracer()
        let client = Self.packet("10.0.0.7", "172.30.0.45", 80)
        let first = try tracer.trace(client)
        #expect(first.summary == "10.180.0.1:80, 10.180.0.2:80, 10.180.0.3:80", "\(first)")
        for path in first.paths {
            #expect(path.learned.count == 1, "each first connection records the client: \(first)")
            let again = try tracer.trace(client, remembering: path.learned)
            #expect(again.endpoints == [path.dnat].compactMap { $0 }, "\(again)")
            #expect(again.paths.count == 1)
            // The NodePort reaches the same affinity entry.
            let viaNodePort = try tracer.trace(
                Self.packet("10.0.0.7", C.nodeIP, 3002),
                remembering: path.learned
            )
            #expect(viaNodePort.endpoints == again.endpoints, "\(viaNodePort)")
            // Another client is not pinned.
            let other = try tracer.trace(Self.packet("10.0.0.8", "172.30.0.45", 80), remembering: path.learned)
            #expect(other.endpoints.count == 3, "\(other)")
        }
    }

    @Test func loadBalancingIsUniformOverEndpoints() throws {
        var cluster = FlowCluster()
        cluster.service("ns1", "svc1", clusterIPs: ["172.30.0.41"], ports: [ServicePort(name: "p80", port: 80)])
        cluster.slice(
            "ns1",
            "svc1",
            ports: [.init(name: "p80", port: 8080)],
            endpoints: (1...7).map {
                endpoint("10.180.0.\($0)")
            }
        )
        let trace = try cluster.tracer().trace(Self.packet("10.0.0.2", "172.30.0.41", 80))
        #expect(trace.endpoints.count == 7)
        for path in trace.paths {
            #expect(abs(path.probability - 1.0 / 7) < 1e-9, "\(trace)")
        }
    }

    /// A hostile snapshot in the spirit of the 65,536 endpoints behind one port (fewer here, to keep a
    /// debug test run short): the trace lists every endpoint with an equal share, in time linear in their number.
    @Test func thousandsOfEndpointsOnOnePort() throws {
        var cluster = FlowCluster()
        cluster.service("ns1", "big", clusterIPs: ["172.30.0.99"], ports: [ServicePort(name: "p80", port: 80)])
        cluster.slice(
            "ns1",
            "big",
            ports: [.init(name: "p80", port: 80)],
            endpoints: (0..<8_192).map { endpoint(IPAddress.v4(0x0AB4_0000 + UInt32($0)).description) }
        )
        let trace = try cluster.tracer().trace(Self.packet("10.0.0.2", "172.30.0.99", 80))
        #expect(trace.endpoints.count == 8_192)
        #expect(trace.paths.allSatisfy { abs($0.probability - 1.0 / 8_192) < 1e-12 })
    }

    @Test(arguments: [
        ("topology-mode Auto", nil as String?, "Auto" as String?, "10.180.0.1:80, 10.180.0.2:80"),
        ("PreferClose", "PreferClose", nil, "10.180.0.1:80, 10.180.0.2:80"),
        ("PreferSameZone", "PreferSameZone", nil, "10.180.0.1:80, 10.180.0.2:80"),
        ("PreferSameNode", "PreferSameNode", nil, "10.180.0.2:80"),
        ("no topology", nil, nil, "10.180.0.1:80, 10.180.0.2:80, 10.180.0.3:80"),
    ])
    func topologyNarrowsClusterEndpoints(
        name: String,
        distribution: String?,
        annotation: String?,
        output: String
    )
        throws
    {
        var cluster = FlowCluster()
        cluster.node.zone = "zone-a"
        cluster.service("ns1", "svc1", clusterIPs: ["172.30.0.41"], ports: [ServicePort(name: "p80", port: 80)]) {
            $0.spec.trafficDistribution = distribution
            if let annotation { $0.metadata.annotations[ServicePortInfo.topologyModeAnnotation] = annotation }
        }
        // The EndpointSlice controller sets node hints only for PreferSameNode; kube-proxy honours node
        // hints whenever every endpoint has them.
        let byNode = distribution == "PreferSameNode"
        cluster.slice(
            "ns1",
            "svc1",
            ports: [.init(name: "p80", port: 80)],
            endpoints: [
                endpoint(
                    "10.180.0.1",
                    node: "node-b",
                    zone: "zone-a",
                    zoneHints: ["zone-a"],
                    nodeHints: byNode ? ["node-b"] : []
                ),
                endpoint(
                    "10.180.0.2",
                    node: C.nodeName,
                    zone: "zone-a",
                    zoneHints: ["zone-a"],
                    nodeHints: byNode ? [C.nodeName] : []
                ),
                endpoint(
                    "10.180.0.3",
                    node: "node-c",
                    zone: "zone-c",
                    zoneHints: ["zone-c"],
                    nodeHints: byNode ? ["node-c"] : []
                ),
            ]
        )
        try cluster.expect([
            Flow(name: name, source: "10.0.0.2", destination: "172.30.0.41", port: 80, output: output)
        ])
    }

    @Test func dualStackServiceIsReachableOnBothFamilies() throws {
        var cluster = FlowCluster()
        cluster.service(
            "ns1",
            "dual",
            type: .nodePort,
            clusterIPs: ["172.30.0.50", "fd00:172:30::50"],
            ports: [
                ServicePort(name: "dns", protocol: .udp, port: 53, nodePort: 3053)
            ]
        )
        cluster.slice(
            "ns1",
            "dual",
            number: 1,
            ports: [.init(name: "dns", protocol: .udp, port: 5353)],
            endpoints: [
                endpoint("10.180.0.9")
            ]
        )
        cluster.slice(
            "ns1",
            "dual",
            number: 2,
            family: .ipv6,
            ports: [.init(name: "dns", protocol: .udp, port: 5353)],
            endpoints: [endpoint("fd00:10:180::9")]
        )
        try cluster.expect([
            Flow(
                name: "v4 ClusterIP",
                source: "10.0.0.2",
                destination: "172.30.0.50",
                port: 53,
                proto: .udp,
                output: "10.180.0.9:5353"
            ),
            Flow(
                name: "v6 ClusterIP",
                source: "fd00:10::2",
                destination: "fd00:172:30::50",
                port: 53,
                proto: .udp,
                output: "[fd00:10:180::9]:5353"
            ),
            Flow(
                name: "v4 NodePort",
                source: C.externalClient,
                destination: C.nodeIP,
                port: 3053,
                proto: .udp,
                output: "10.180.0.9:5353",
                masq: true
            ),
            Flow(
                name: "v6 NodePort",
                source: "2600:5200::1",
                destination: C.nodeIPv6,
                port: 3053,
                proto: .udp,
                output: "[fd00:10:180::9]:5353",
                masq: true
            ),
            Flow(
                name: "v6 TCP is not served",
                source: "fd00:10::2",
                destination: "fd00:172:30::50",
                port: 53,
                output: "REJECT"
            ),
        ])
    }

    @Test func headlessAndExternalNameServicesGetNoRules() throws {
        var cluster = FlowCluster()
        let empty = cluster.ruleset
        cluster.service("ns1", "headless", clusterIPs: [], ports: [ServicePort(name: "p80", port: 80)]) {
            $0.spec.isHeadless = true
        }
        cluster.service(
            "ns1",
            "external",
            type: .externalName,
            clusterIPs: ["172.30.0.60"],
            ports: [
                ServicePort(name: "p80", port: 80)
            ]
        ) { $0.spec.externalName = "example.com" }
        cluster.slice("ns1", "headless", ports: [.init(name: "p80", port: 80)], endpoints: [endpoint("10.180.0.1")])
        #expect(cluster.ruleset == empty)
        try cluster.expect([
            Flow(
                name: "ExternalName's clusterIP is not a Service address",
                source: "10.0.0.2",
                destination: "172.30.0.60",
                port: 80,
                output: "ACCEPT"
            ),
            Flow(
                name: "headless endpoints are reached directly",
                source: "10.0.0.2",
                destination: "10.180.0.1",
                port: 80,
                output: "ACCEPT"
            ),
        ])
    }

    @Test func externalIPsAreServedOnlyOnTheirPort() throws {
        var cluster = FlowCluster()
        cluster.service("ns4", "svc4", clusterIPs: ["172.30.0.44"], ports: [ServicePort(name: "p80", port: 80)]) {
            $0.spec.externalIPs = [ip("192.168.99.33")]
        }
        cluster.slice(
            "ns4",
            "svc4",
            ports: [.init(name: "p80", port: 80)],
            endpoints: [
                endpoint("10.180.0.4"), endpoint("10.180.0.5", node: C.nodeName),
            ]
        )
        try cluster.expect([
            Flow(
                name: "external to externalIP",
                source: C.externalClient,
                destination: "192.168.99.33",
                port: 80,
                output: "10.180.0.4:80, 10.180.0.5:80",
                masq: true
            ),
            Flow(
                name: "pod to externalIP",
                source: "10.0.0.2",
                destination: "192.168.99.33",
                port: 80,
                output: "10.180.0.4:80, 10.180.0.5:80",
                masq: true
            ),
            Flow(
                name: "other port of the externalIP",
                source: C.externalClient,
                destination: "192.168.99.33",
                port: 81,
                output: "ACCEPT"
            ),
        ])
    }
}
