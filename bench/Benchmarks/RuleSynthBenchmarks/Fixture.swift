import ClusterModel
import KubeModel
import RuleSynth

/// A synthetic cluster of `services` Services with `endpointsPerService` endpoints each, built through
/// ``ClusterState`` the way the daemon builds its model. Every tenth of the first 2,000 Services is a
/// NodePort (NodePorts are scarce), and each Service has one endpoint on this node, so local chains and
/// the NodePort maps are exercised too.
struct Fixture: Sendable {
    static let nodeName = "node-0"
    static let node = NodeConfig(
        nodeName: nodeName,
        nodeIPs: [IPAddress("192.168.0.10")!],
        clusterCIDRs: [CIDR("10.128.0.0/9")!]
    )

    let services: Int
    let snapshot: ClusterSnapshot
    /// The same cluster with one endpoint of the middle Service replaced by a new pod.
    let changedSnapshot: ClusterSnapshot
    /// The Service ports that change names (what the sync loop passes to ``RuleSynthesizer``).
    let changedPorts: Set<ServicePortName>
    /// A synthesizer that has already synthesized `snapshot`.
    let synthesizer: RuleSynthesizer
    /// A sync planner that has programmed `snapshot`'s ruleset: its next plan is a diff.
    let planner: SyncPlanner

    init(services: Int, endpointsPerService: Int = 10) {
        self.services = services
        var state = ClusterState(nodeName: Fixture.nodeName)
        var events: [ClusterEvent] = []
        events.reserveCapacity(services * 2)
        for index in 0..<services {
            events.append(.upsert(.service(Fixture.service(index))))
            events.append(
                .upsert(.endpointSlice(Fixture.slice(index, endpoints: endpointsPerService, replaced: false)))
            )
        }
        state.apply(events)
        _ = state.takeChanges()
        snapshot = state.snapshot
        state.apply(
            .upsert(.endpointSlice(Fixture.slice(services / 2, endpoints: endpointsPerService, replaced: true)))
        )
        changedPorts = state.takeChanges().servicePorts
        changedSnapshot = state.snapshot
        var synthesizer = RuleSynthesizer(node: Fixture.node)
        synthesizer.synthesize(snapshot)
        self.synthesizer = synthesizer
        planner = SyncPlanner().plan(synthesizer.ruleset, now: 0).next
    }

    static func address(base: UInt32, _ index: Int) -> IPAddress {
        .v4(base &+ UInt32(truncatingIfNeeded: index))
    }

    static func service(_ index: Int) -> Service {
        let nodePort: PortNumber? = index < 2000 && index % 10 == 0 ? PortNumber(30000 + index / 10) : nil
        return Service(
            metadata: ObjectMeta(name: "svc-\(index)", namespace: "ns-\(index % 100)"),
            spec: ServiceSpec(
                type: nodePort == nil ? .clusterIP : .nodePort,
                clusterIPs: [address(base: 0x0A60_0001, index)],  // 10.96.0.1 onwards
                ports: [ServicePort(name: "http", port: 80, targetPort: .int(8080), nodePort: nodePort)]
            )
        )
    }

    static func slice(_ index: Int, endpoints: Int, replaced: Bool) -> EndpointSlice {
        let pods = (0..<endpoints).map { position in
            // Pods live in 10.128.0.0/9; the replacement pod comes from 10.127.0.0/16.
            let pod =
                replaced && position == endpoints - 1
                ? address(base: 0x0A7F_0000, index) : address(base: 0x0A80_0000, index * endpoints + position)
            return EndpointSlice.Endpoint(
                addresses: [pod.description],
                nodeName: position == 0 ? nodeName : "node-\(position)"
            )
        }
        return EndpointSlice(
            metadata: ObjectMeta(
                name: "svc-\(index)-abcde",
                namespace: "ns-\(index % 100)",
                labels: [EndpointSlice.serviceNameLabel: "svc-\(index)"]
            ),
            addressType: .ipv4,
            endpoints: pods,
            ports: [EndpointSlice.EndpointPort(name: "http", port: 8080)]
        )
    }
}

/// Built on first use (Swift globals are lazy), so a run filtered to one size builds only that cluster.
let fixture1k = Fixture(services: 1_000)
let fixture10k = Fixture(services: 10_000)
let fixture50k = Fixture(services: 50_000)

extension Fixture {
    static func shared(_ services: Int) -> Fixture {
        switch services {
        case ..<5_000: return fixture1k
        case ..<30_000: return fixture10k
        default: return fixture50k
        }
    }
}
