import ClusterModel
import KubeModel
import RuleSynth
import Testing

/// A hand-made cluster for packet-flow tests, in the conventions of kube-proxy's
/// `pkg/proxy/nftables/proxier_test.go`, so its scenarios port one to one:
///
/// | what | addresses |
/// |---|---|
/// | pod IPs (cluster CIDR) | 10.0.0.0/8, fd00:10::/64 |
/// | ClusterIPs | 172.30.0.0/16 |
/// | this node | 192.168.0.2 (also 192.168.1.2, 192.168.99.11), 2001:db8::1 (also 2001:db8:1::2) |
/// | LoadBalancer IPs | 1.2.3.4, 5.6.7.8, 9.10.11.12 |
/// | off-cluster clients | 203.0.113.0/24; LB source range 203.0.113.0/25 |
struct FlowCluster {
    static let nodeName = "test-node"
    static let nodeIP = "192.168.0.2"
    static let nodeIPAlt = "192.168.1.2"
    static let externalIP = "192.168.99.11"
    static let nodeIPv6 = "2001:db8::1"
    static let nodeIPv6Alt = "2001:db8:1::2"
    static let externalClient = "203.0.113.2"
    static let externalClientBlocked = "203.0.113.130"
    /// Every address of the node, as `fib … type local` sees them (upstream's `testNodeIPs`).
    static let localAddresses = [nodeIP, nodeIPAlt, externalIP, nodeIPv6, nodeIPv6Alt].map(ip)

    var objects: [ClusterObject] = []
    var node = NodeConfig(
        nodeName: FlowCluster.nodeName,
        nodeIPs: [ip(FlowCluster.nodeIP), ip(FlowCluster.nodeIPv6)],
        clusterCIDRs: [cidr("10.0.0.0/8"), cidr("fd00:10::/64")]
    )

    /// A Service with upstream's defaults (`makeTestService`): type ClusterIP, policies Cluster.
    mutating func service(
        _ namespace: String,
        _ name: String,
        type: ServiceType = .clusterIP,
        clusterIPs: [String],
        ports: [ServicePort],
        configure: (inout Service) -> Void = { _ in }
    ) {
        var service = Service(
            metadata: ObjectMeta(name: name, namespace: namespace),
            spec: ServiceSpec(type: type, clusterIPs: clusterIPs.map(ip), ports: ports)
        )
        configure(&service)
        objects.append(.service(service))
    }

    /// An EndpointSlice for a Service (upstream's `makeTestEndpointSlice`).
    mutating func slice(
        _ namespace: String,
        _ service: String,
        number: Int = 1,
        family: EndpointSlice.AddressType = .ipv4,
        ports: [EndpointSlice.EndpointPort],
        endpoints: [EndpointSlice.Endpoint]
    ) {
        objects.append(
            .endpointSlice(
                EndpointSlice(
                    metadata: ObjectMeta(
                        name: "\(service)-\(number)",
                        namespace: namespace,
                        labels: [EndpointSlice.serviceNameLabel: service]
                    ),
                    addressType: family,
                    endpoints: endpoints,
                    ports: ports
                )
            )
        )
    }

    var snapshot: ClusterSnapshot {
        var state = ClusterState(nodeName: FlowCluster.nodeName)
        state.apply(objects.map { ClusterEvent.upsert($0) })
        return state.snapshot
    }

    var ruleset: Ruleset { synthesize(snapshot, node: node) }

    func tracer() throws -> Tracer {
        try Tracer(ruleset: ruleset, localAddresses: FlowCluster.localAddresses)
    }

    /// Runs upstream-style flows: `output` is the sorted endpoint list, or DROP, REJECT or ACCEPT (upstream's "").
    func expect(_ flows: [Flow], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let tracer = try tracer()
        for flow in flows {
            let trace = try tracer.trace(flow.packet)
            #expect(
                trace.summary == flow.output,
                "\(flow.name): wrong output\n\(trace)",
                sourceLocation: sourceLocation
            )
            #expect(
                trace.masqueraded == flow.masq,
                "\(flow.name): wrong masquerade\n\(trace)",
                sourceLocation: sourceLocation
            )
        }
    }
}

/// One of upstream's `packetFlowTest`s. A source that is one of the node's addresses is sent by the node
/// itself (output hook); anything else arrives on `from` (prerouting).
struct Flow {
    var name: String
    var source: String
    var destination: String
    var port: UInt16
    var proto: TransportProtocol = .tcp
    var from = "eth0"
    var output: String
    var masq = false

    var packet: Tracer.Packet {
        let source = ip(self.source)
        return Tracer.Packet(
            source: source,
            destination: ip(destination),
            protocol: proto,
            destinationPort: port,
            origin: FlowCluster.localAddresses.contains(source) ? .local : .inbound(interface: from)
        )
    }
}

func ip(_ text: String) -> IPAddress {
    guard let address = IPAddress(text) else { fatalError("bad test address \(text)") }
    return address
}

func cidr(_ text: String) -> CIDR {
    guard let cidr = CIDR(text) else { fatalError("bad test CIDR \(text)") }
    return cidr
}

func endpoint(
    _ address: String,
    node: String? = nil,
    ready: Bool = true,
    serving: Bool? = nil,
    terminating: Bool = false,
    zone: String? = nil,
    zoneHints: [String] = [],
    nodeHints: [String] = []
) -> EndpointSlice.Endpoint {
    EndpointSlice.Endpoint(
        addresses: [address],
        ready: ready,
        serving: serving,
        terminating: terminating,
        nodeName: node,
        zone: zone,
        zoneHints: zoneHints,
        nodeHints: nodeHints
    )
}
