import ClusterDNS
import ClusterModel
import KubeModel

/// A small cluster with one Service of every DNS shape, built from API objects through ``ClusterState``
/// exactly as the daemon builds its model.
enum ZoneFixture {
    static func service(
        _ name: String, namespace: String = "demo", ips: [String] = [], headless: Bool = false,
        ports: [ServicePort] = [], externalName: String? = nil, publishNotReady: Bool = false
    ) -> ClusterEvent {
        var spec = ServiceSpec(
            type: externalName == nil ? .clusterIP : .externalName, clusterIPs: ips.map { IPAddress($0)! },
            isHeadless: headless, ports: ports, externalName: externalName, publishNotReadyAddresses: publishNotReady)
        spec.ipFamilies = spec.clusterIPs.map(\.family)
        return .upsert(.service(Service(metadata: ObjectMeta(name: name, namespace: namespace), spec: spec)))
    }

    static func slice(
        _ name: String, service: String, namespace: String = "demo", family: EndpointSlice.AddressType = .ipv4,
        ports: [EndpointSlice.EndpointPort], endpoints: [EndpointSlice.Endpoint]
    ) -> ClusterEvent {
        .upsert(
            .endpointSlice(
                EndpointSlice(
                    metadata: ObjectMeta(
                        name: name, namespace: namespace, labels: [EndpointSlice.serviceNameLabel: service]),
                    addressType: family, endpoints: endpoints, ports: ports)))
    }

    static func pod(
        _ name: String, namespace: String = "demo", ips: [String], hostNetwork: Bool = false
    ) -> ClusterEvent {
        .upsert(
            .pod(
                Pod(
                    metadata: ObjectMeta(name: name, namespace: namespace), nodeName: "node-a",
                    podIPs: ips.map { IPAddress($0)! }, hostNetwork: hostNetwork)))
    }

    static let http = ServicePort(name: "http", port: 80, targetPort: .string("http"))

    static var events: [ClusterEvent] {
        [
            service("web", ips: ["10.96.100.10"], ports: [http, ServicePort(port: 8443)]),
            slice(
                "web-1", service: "web", ports: [.init(name: "http", port: 8080)],
                endpoints: [
                    .init(addresses: ["10.244.1.10"], nodeName: "node-a"),
                    .init(addresses: ["10.244.2.10"], nodeName: "node-b"),
                    .init(addresses: ["10.244.1.11"], ready: false, nodeName: "node-a"),
                ]),
            service(
                "dual", ips: ["10.96.50.50", "fd00:10:96::50"],
                ports: [ServicePort(name: "dns", protocol: .udp, port: 53)]),
            service("db", headless: true, ports: [ServicePort(name: "postgres", port: 5432)]),
            slice(
                "db-1", service: "db", ports: [.init(name: "postgres", port: 5432)],
                endpoints: [
                    .init(addresses: ["10.244.1.30"], hostname: "db-0"),
                    .init(addresses: ["10.244.2.30"], hostname: "db-1"),
                    .init(addresses: ["10.244.1.31"], ready: false, hostname: "db-2"),
                ]),
            service("nohost", headless: true),
            slice(
                "nohost-4", service: "nohost", ports: [.init(name: "http", port: 8080)],
                endpoints: [.init(addresses: ["10.244.1.20"])]),
            slice(
                "nohost-6", service: "nohost", family: .ipv6, ports: [.init(name: "http", port: 8080)],
                endpoints: [.init(addresses: ["fd00:10:244:1::20"])]),
            service("unready", headless: true),
            slice(
                "unready-1", service: "unready", ports: [],
                endpoints: [.init(addresses: ["10.244.1.40"], ready: false)]),
            service("published", headless: true, publishNotReady: true),
            slice(
                "published-1", service: "published", ports: [],
                endpoints: [.init(addresses: ["10.244.1.41"], ready: false)]),
            service("external", externalName: "example.net"),
            service("alias", externalName: "web.demo.svc.cluster.local"),
            service("web", namespace: "other", ips: ["10.96.200.10"], ports: [http]),
            pod("client", ips: ["10.244.1.50", "fd00:10:244:1::50"]),
            pod("lonely", namespace: "podsonly", ips: ["10.244.1.60"]),
            pod("host", namespace: "kube-system", ips: ["10.0.0.11"], hostNetwork: true),
        ]
    }

    static func state() -> ClusterState {
        var state = ClusterState(nodeName: "node-a")
        state.apply(events)
        return state
    }

    static func index(_ config: ZoneConfig = ZoneConfig()) -> ZoneIndex {
        ZoneIndex(config: config, snapshot: state().snapshot)
    }
}

extension ZoneIndex {
    /// Asks one question and expects a complete answer from the zone.
    func ask(_ name: String, _ type: RecordType, from namespace: String? = nil) -> Message? {
        ask(n(name), type, from: namespace)
    }

    func ask(_ name: DNSName, _ type: RecordType, from namespace: String? = nil) -> Message? {
        guard
            case .response(let message) = answer(
                Message.query(id: 7, name: name, type: type), clientNamespace: namespace)
        else { return nil }
        return message
    }
}

extension Message {
    /// Answers in `dig +short` style, owner first: `web.demo.svc.cluster.local. A 10.96.100.10`.
    var answerLines: [String] { answers.map(\.line) }
    var additionalLines: [String] { additionals.map(\.line) }
}

extension ResourceRecord {
    var line: String {
        switch data {
        case .a(let ip), .aaaa(let ip): return "\(name) \(type) \(ip)"
        case .cname(let target), .ptr(let target), .ns(let target): return "\(name) \(type) \(target)"
        case .srv(let srv): return "\(name) SRV \(srv.priority) \(srv.weight) \(srv.port) \(srv.target)"
        case .txt(let strings):
            return "\(name) TXT " + strings.map { "\"\(String(decoding: $0, as: UTF8.self))\"" }.joined(separator: " ")
        case .soa(let soa): return "\(name) SOA \(soa.primary) \(soa.mailbox) \(soa.minimum)"
        default: return "\(name) \(type)"
        }
    }
}

/// A name from a literal; a malformed one is a bug in the test.
func n(_ text: String) -> DNSName {
    do {
        return try DNSName(text)
    } catch {
        preconditionFailure("invalid DNS name literal \(text): \(error)")
    }
}
