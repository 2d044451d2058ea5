import ClusterModel
import KubeModel
import Testing

@Suite("Cluster state: merging, labels and change tracking")
struct ClusterStateTests {
    static func service(
        _ name: String, namespace: String = "demo", ip: String = "10.96.0.10", ports: [ServicePort] = [
            ServicePort(name: "http", port: 80, targetPort: .string("http"))
        ], labels: [String: String] = [:], headless: Bool = false
    ) -> Service {
        Service(
            metadata: ObjectMeta(name: name, namespace: namespace, labels: labels),
            spec: ServiceSpec(clusterIPs: headless ? [] : [IPAddress(ip)!], isHeadless: headless, ports: ports))
    }

    static func slice(
        _ name: String, service: String?, namespace: String = "demo", family: EndpointSlice.AddressType = .ipv4,
        ports: [EndpointSlice.EndpointPort] = [EndpointSlice.EndpointPort(name: "http", port: 8080)],
        endpoints: [EndpointSlice.Endpoint], labels: [String: String] = [:]
    ) -> EndpointSlice {
        var allLabels = labels
        if let service { allLabels[EndpointSlice.serviceNameLabel] = service }
        return EndpointSlice(
            metadata: ObjectMeta(name: name, namespace: namespace, labels: allLabels), addressType: family,
            endpoints: endpoints, ports: ports)
    }

    static let web = ServicePortName(namespace: "demo", name: "web", port: "http", protocol: .tcp)

    @Test func targetPortIsResolvedFromTheSlicePortOfTheSameName() {
        var state = ClusterState(nodeName: "node-a")
        state.apply(.upsert(.service(Self.service("web"))))
        state.apply(.upsert(.endpointSlice(Self.slice(
            "web-1", service: "web",
            ports: [.init(name: "http", port: 8080), .init(name: "metrics", port: 9090)],
            endpoints: [.init(addresses: ["10.244.1.10"], nodeName: "node-a")]))))
        #expect(state.snapshot.endpoints(for: Self.web).map(\.description) == ["10.244.1.10:8080"])
        let metrics = ServicePortName(namespace: "demo", name: "web", port: "metrics", protocol: .tcp)
        #expect(state.snapshot.endpoints(for: metrics).map(\.description) == ["10.244.1.10:9090"])
    }

    @Test func slicesAreMergedAndDeduplicatedPreferringReady() {
        var state = ClusterState(nodeName: "node-a")
        state.apply([
            .upsert(.service(Self.service("web"))),
            .upsert(.endpointSlice(Self.slice("web-a", service: "web", endpoints: [
                .init(addresses: ["10.244.1.10"], ready: false), .init(addresses: ["10.244.1.11"]),
            ]))),
            .upsert(.endpointSlice(Self.slice("web-b", service: "web", endpoints: [
                .init(addresses: ["10.244.1.10"], ready: true), .init(addresses: ["10.244.2.12"]),
            ]))),
        ])
        let endpoints = state.snapshot.endpoints(for: Self.web)
        #expect(endpoints.map(\.description) == ["10.244.1.10:8080", "10.244.1.11:8080", "10.244.2.12:8080"])
        #expect(endpoints.allSatisfy { $0.ready })
    }

    @Test func slicesArriveBeforeTheirService() {
        var state = ClusterState(nodeName: "node-a")
        state.apply(.upsert(.endpointSlice(Self.slice("web-a", service: "web", endpoints: [.init(addresses: ["10.244.1.10"])]))))
        _ = state.takeChanges()
        state.apply(.upsert(.service(Self.service("web"))))
        #expect(state.snapshot.servicePorts[Self.web] != nil)
        #expect(state.snapshot.endpoints(for: Self.web).count == 1)
        #expect(state.snapshot.services[ServiceKey(namespace: "demo", name: "web")]?.endpoints.count == 1)
        #expect(state.takeChanges().servicePorts == [Self.web])
    }

    @Test func slicesWithoutTheServiceNameLabelAreIgnored() {
        var state = ClusterState(nodeName: "node-a")
        state.apply(.upsert(.service(Self.service("web"))))
        state.apply(.upsert(.endpointSlice(Self.slice("orphan", service: nil, endpoints: [.init(addresses: ["10.244.1.10"])]))))
        #expect(state.snapshot.endpoints(for: Self.web).isEmpty)
    }

    @Test func addressesOfTheWrongFamilyAndFQDNSlicesAreSkipped() {
        var state = ClusterState(nodeName: "node-a")
        state.apply([
            .upsert(.service(Self.service("web"))),
            .upsert(.endpointSlice(Self.slice("v4", service: "web", endpoints: [
                .init(addresses: ["fd00::1"]), .init(addresses: ["not-an-ip"]), .init(addresses: ["10.244.1.10"]),
            ]))),
            .upsert(.endpointSlice(Self.slice("fqdn", service: "web", family: .fqdn, endpoints: [.init(addresses: ["example.com"])]))),
        ])
        #expect(state.snapshot.endpoints(for: Self.web).map(\.description) == ["10.244.1.10:8080"])
    }

    @Test func proxyNameLabelKeepsTheServiceForDNSButNotForRules() {
        var state = ClusterState(nodeName: "node-a")
        state.apply(.upsert(.service(Self.service("web", labels: [ClusterState.serviceProxyNameLabel: "other"]))))
        #expect(state.snapshot.servicePorts[Self.web]?.proxied == false)
        #expect(state.snapshot.services[ServiceKey(namespace: "demo", name: "web")]?.proxied == false)
    }

    @Test func headlessLabelAndClusterIPNoneMeanNoPorts() {
        var state = ClusterState(nodeName: "node-a")
        state.apply([
            .upsert(.service(Self.service("db", headless: true))),
            .upsert(.service(Self.service("labelled", labels: [ClusterState.headlessLabel: ""]))),
            .upsert(.endpointSlice(Self.slice("db-1", service: "db", endpoints: [.init(addresses: ["10.244.1.80"], hostname: "db-0")],
                labels: [ClusterState.headlessLabel: ""]))),
        ])
        #expect(state.snapshot.servicePorts.isEmpty)
        let db = state.snapshot.services[ServiceKey(namespace: "demo", name: "db")]
        #expect(db?.endpoints.first?.hostname == "db-0")
        #expect(db?.endpointPorts.first?.port == 8080)
    }

    @Test func changeTrackingNamesExactlyWhatChanged() {
        var state = ClusterState(nodeName: "node-a")
        state.apply([
            .upsert(.service(Self.service("web"))),
            .upsert(.service(Self.service("api", ip: "10.96.0.11"))),
            .upsert(.endpointSlice(Self.slice("web-a", service: "web", endpoints: [.init(addresses: ["10.244.1.10"])]))),
        ])
        _ = state.takeChanges()

        // Re-applying identical objects changes nothing.
        state.apply(.upsert(.service(Self.service("web"))))
        #expect(state.takeChanges().isEmpty)

        state.apply(.upsert(.endpointSlice(Self.slice("web-a", service: "web", endpoints: [.init(addresses: ["10.244.1.99"])]))))
        var changes = state.takeChanges()
        #expect(changes.servicePorts == [Self.web])
        #expect(!changes.nodeChanged)

        state.apply(.delete(.service, ObjectKey(namespace: "demo", name: "api")))
        changes = state.takeChanges()
        #expect(changes.servicePorts == [ServicePortName(namespace: "demo", name: "api", port: "http", protocol: .tcp)])
        #expect(changes.services == [ServiceKey(namespace: "demo", name: "api")])

        state.apply(.upsert(.node(Node(metadata: ObjectMeta(name: "node-b")))))
        #expect(!state.takeChanges().nodeChanged, "another node's change is not ours")
        state.apply(.upsert(.node(Node(metadata: ObjectMeta(name: "node-a", labels: [Node.zoneLabel: "z"])))))
        #expect(state.takeChanges().nodeChanged)
    }

    @Test func renamedPortRemovesTheOldPort() {
        var state = ClusterState(nodeName: "node-a")
        state.apply(.upsert(.service(Self.service("web"))))
        _ = state.takeChanges()
        state.apply(.upsert(.service(Self.service("web", ports: [ServicePort(name: "web", port: 80)]))))
        let renamed = ServicePortName(namespace: "demo", name: "web", port: "web", protocol: .tcp)
        #expect(state.takeChanges().servicePorts == [Self.web, renamed])
        #expect(state.snapshot.servicePorts[Self.web] == nil)
    }

    @Test func replaceAllDeletesWhatIsMissing() {
        var state = ClusterState(nodeName: "node-a")
        state.apply([.upsert(.service(Self.service("web"))), .upsert(.service(Self.service("old", ip: "10.96.0.99")))])
        state.apply(.replaceAll(.service, [.service(Self.service("web"))]))
        #expect(state.snapshot.services.count == 1)
        #expect(state.snapshot.services[ServiceKey(namespace: "demo", name: "web")] != nil)
    }

    @Test func snapshotsAreImmutable() {
        var state = ClusterState(nodeName: "node-a")
        state.apply(.upsert(.service(Self.service("web"))))
        let before = state.snapshot
        state.apply(.delete(.service, ObjectKey(namespace: "demo", name: "web")))
        #expect(before.servicePorts[Self.web] != nil)
        #expect(state.snapshot.servicePorts[Self.web] == nil)
    }

    @Test func podsAreIndexedByIP() {
        var state = ClusterState(nodeName: "node-a")
        let pod = Pod(metadata: ObjectMeta(name: "client", namespace: "team"), nodeName: "node-a",
                      podIPs: [IPAddress("10.244.1.50")!, IPAddress("fd00::50")!])
        state.apply(.upsert(.pod(pod)))
        #expect(state.snapshot.podsByIP[IPAddress("fd00::50")!] == ObjectKey(namespace: "team", name: "client"))
        state.apply(.delete(.pod, ObjectKey(namespace: "team", name: "client")))
        #expect(state.snapshot.podsByIP.isEmpty)
        #expect(state.takeChanges().podsChanged)

        let hostPod = Pod(metadata: ObjectMeta(name: "agent", namespace: "kube-system"), nodeName: "node-a",
                          podIPs: [IPAddress("10.0.0.11")!], hostNetwork: true)
        state.apply(.upsert(.pod(hostPod)))
        #expect(state.snapshot.podsByIP.isEmpty, "host-network pods do not own their IPs")
    }
}
