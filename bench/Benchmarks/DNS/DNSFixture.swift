import ClusterDNS
import ClusterModel
import KubeModel

/// A synthetic cluster for the DNS benchmarks: `services` ClusterIP Services in 100 namespaces, every
/// tenth headless with 10 named endpoints, built through ``ClusterState`` as the daemon builds it, plus
/// the queries a pod mix sends (Service A, AAAA NODATA, SRV, headless A, NXDOMAIN).
struct DNSFixture: Sendable {
    let snapshot: ClusterSnapshot
    let index: ZoneIndex
    /// Snapshot and change set after one headless Service gained an endpoint.
    let changed: ClusterSnapshot
    let changes: ChangeSet
    let queries: [Message]
    let packets: [[UInt8]]

    init(services: Int) {
        var state = ClusterState(nodeName: "node-0")
        var events: [ClusterEvent] = []
        for number in 0..<services {
            let namespace = "ns-\(number % 100)"
            let name = "svc-\(number)"
            let headless = number % 10 == 0
            let ip = IPAddress.v4(0x0A60_0000 + UInt32(number) + 1)
            events.append(
                .upsert(
                    .service(
                        Service(
                            metadata: ObjectMeta(name: name, namespace: namespace),
                            spec: ServiceSpec(
                                clusterIPs: headless ? [] : [ip], isHeadless: headless,
                                ports: [ServicePort(name: "http", port: 80)])))))
            events.append(DNSFixture.slice(name, namespace: namespace, number: number, endpoints: 10))
        }
        state.apply(events)
        snapshot = state.snapshot
        _ = state.takeChanges()
        index = ZoneIndex(config: ZoneConfig(), snapshot: snapshot)
        state.apply(DNSFixture.slice("svc-0", namespace: "ns-0", number: 0, endpoints: 11))
        changed = state.snapshot
        changes = state.takeChanges()

        var queries: [Message] = []
        for number in stride(from: 1, to: services, by: max(1, services / 200)) {
            let namespace = "ns-\(number % 100)"
            let base = "svc-\(number).\(namespace).svc.cluster.local"
            let id = UInt16(truncatingIfNeeded: number)
            queries.append(.query(id: id, name: try! DNSName(base), type: .a))
            queries.append(.query(id: id, name: try! DNSName(base), type: .aaaa))
            queries.append(.query(id: id, name: try! DNSName("_http._tcp." + base), type: .srv))
            queries.append(
                .query(id: id, name: try! DNSName("nope-\(number).\(namespace).svc.cluster.local"), type: .a))
        }
        for number in stride(from: 0, to: services, by: max(10, services / 50)) {
            let name = "svc-\(number).ns-\(number % 100).svc.cluster.local"
            queries.append(.query(id: 1, name: try! DNSName(name), type: .a))
        }
        self.queries = queries
        packets = queries.map { $0.encoded() }
    }

    static func slice(_ service: String, namespace: String, number: Int, endpoints: Int) -> ClusterEvent {
        .upsert(
            .endpointSlice(
                EndpointSlice(
                    metadata: ObjectMeta(
                        name: "\(service)-1", namespace: namespace,
                        labels: [EndpointSlice.serviceNameLabel: service]),
                    addressType: .ipv4,
                    endpoints: (0..<endpoints).map { offset in
                        .init(
                            addresses: ["10.\(128 + number / 65536).\(number / 256 % 256).\(offset + 1)"],
                            hostname: "ep-\(offset)")
                    },
                    ports: [.init(name: "http", port: 8080)])))
    }

    nonisolated(unsafe) static var cache: [Int: DNSFixture] = [:]

    /// Built once per size per process; benchmarks run one at a time.
    static func shared(_ services: Int) -> DNSFixture {
        if let fixture = cache[services] { return fixture }
        let fixture = DNSFixture(services: services)
        cache[services] = fixture
        return fixture
    }
}

/// State that must outlive one benchmark invocation: the closure runs once per sample, and copying or
/// freeing a 10k-Service index inside it would be measured instead of the work.
final class Workbench: @unchecked Sendable {
    var index: ZoneIndex
    var flip = false
    let pipeline: QueryPipeline<ClusterResponder>

    init(_ fixture: DNSFixture) {
        index = ZoneIndex(config: ZoneConfig(), snapshot: fixture.snapshot)
        let responder = ClusterResponder(config: ZoneConfig())
        responder.load(fixture.snapshot)
        pipeline = QueryPipeline(responder: responder)
    }

    nonisolated(unsafe) static var cache: [Int: Workbench] = [:]

    static func shared(_ services: Int) -> Workbench {
        if let workbench = cache[services] { return workbench }
        let workbench = Workbench(DNSFixture.shared(services))
        cache[services] = workbench
        return workbench
    }
}
