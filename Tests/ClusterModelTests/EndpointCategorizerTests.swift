import ClusterModel
import KubeModel
import Testing

/// The cases of upstream's `pkg/proxy/topology_test.go` (TestCategorizeEndpoints), plus trafficDistribution.
///
/// Upstream's feature gates are all on in kproxy (ProxyTerminatingEndpoints and TopologyAwareHints are GA),
/// so the "PTE disabled" and "hints disabled" variants are expressed with the GA behaviour.
@Suite("Endpoint categorisation")
struct EndpointCategorizerTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var name: String
        var zone: String? = "zone-a"
        var annotation: String? = nil
        var distribution: String? = nil
        var internalLocal = false
        var externalLocal = false
        var nodePort = false
        var endpoints: [ServiceEndpoint]
        /// nil: the Service does not use this kind of endpoint at all (upstream's `nil` versus an empty set).
        var cluster: Set<String>?
        var local: Set<String>?
        var all: Set<String>? = nil
        var onlyRemote = false
        var mode: TopologyMode? = nil

        var testDescription: String { name }
    }

    static let node = "this-node"

    static func ep(
        _ text: String, zones: [String] = [], nodes: [String] = [], ready: Bool = true, serving: Bool? = nil,
        terminating: Bool = false, local: Bool = false
    ) -> ServiceEndpoint {
        let parts = text.split(separator: ":")
        return ServiceEndpoint(
            address: IPAddress(parts[0])!, port: UInt16(parts[1])!, ready: ready, serving: serving ?? ready,
            terminating: terminating, nodeName: local ? node : "other-node", zoneHints: zones, nodeHints: nodes)
    }

    static let fourZoned = [
        ep("10.1.2.3:80", zones: ["zone-a"]), ep("10.1.2.4:80", zones: ["zone-b"]),
        ep("10.1.2.5:80", zones: ["zone-c"]), ep("10.1.2.6:80", zones: ["zone-a"]),
    ]
    static let allFour: Set<String> = ["10.1.2.3:80", "10.1.2.4:80", "10.1.2.5:80", "10.1.2.6:80"]

    static let cases: [Case] = [
        Case(name: "hints annotation auto", annotation: "auto", endpoints: fourZoned,
             cluster: ["10.1.2.3:80", "10.1.2.6:80"], local: nil, mode: .sameZone),
        Case(name: "hints annotation disabled: ignored", annotation: "disabled", endpoints: fourZoned,
             cluster: allFour, local: nil),
        Case(name: "hints annotation aUto (wrong capitalisation): ignored", annotation: "aUto", endpoints: fourZoned,
             cluster: allFour, local: nil),
        Case(name: "hints annotation empty: ignored", endpoints: fourZoned, cluster: allFour, local: nil),
        Case(name: "eTP Local: topology ignored for local endpoints", annotation: "auto", externalLocal: true,
             nodePort: true,
             endpoints: [ep("10.1.2.3:80", zones: ["zone-a"], local: true), ep("10.1.2.4:80", zones: ["zone-b"], local: true),
                         ep("10.1.2.5:80", zones: ["zone-c"]), ep("10.1.2.6:80", zones: ["zone-a"])],
             cluster: ["10.1.2.3:80", "10.1.2.6:80"], local: ["10.1.2.3:80", "10.1.2.4:80"],
             all: ["10.1.2.3:80", "10.1.2.4:80", "10.1.2.6:80"], mode: .sameZone),
        Case(name: "iTP Local: topology ignored for local endpoints", annotation: "auto", internalLocal: true,
             nodePort: true,
             endpoints: [ep("10.1.2.3:80", zones: ["zone-a"], local: true), ep("10.1.2.4:80", zones: ["zone-b"], local: true),
                         ep("10.1.2.5:80", zones: ["zone-c"]), ep("10.1.2.6:80", zones: ["zone-a"])],
             cluster: ["10.1.2.3:80", "10.1.2.6:80"], local: ["10.1.2.3:80", "10.1.2.4:80"],
             all: ["10.1.2.3:80", "10.1.2.4:80", "10.1.2.6:80"], mode: .sameZone),
        Case(name: "empty node labels", zone: nil, annotation: "auto",
             endpoints: [ep("10.1.2.3:80", zones: ["zone-a"])], cluster: ["10.1.2.3:80"], local: nil),
        Case(name: "empty zone label", zone: "", annotation: "auto",
             endpoints: [ep("10.1.2.3:80", zones: ["zone-a"])], cluster: ["10.1.2.3:80"], local: nil),
        Case(name: "node in different zone: no filtering", zone: "zone-b", annotation: "auto",
             endpoints: [ep("10.1.2.3:80", zones: ["zone-a"])], cluster: ["10.1.2.3:80"], local: nil),
        Case(name: "normal filtering, Auto annotation", annotation: "Auto", endpoints: fourZoned,
             cluster: ["10.1.2.3:80", "10.1.2.6:80"], local: nil, mode: .sameZone),
        Case(name: "unready endpoint", annotation: "auto",
             endpoints: [ep("10.1.2.3:80", zones: ["zone-a"]), ep("10.1.2.4:80", zones: ["zone-b"]),
                         ep("10.1.2.5:80", zones: ["zone-c"]), ep("10.1.2.6:80", zones: ["zone-a"], ready: false)],
             cluster: ["10.1.2.3:80"], local: nil, mode: .sameZone),
        Case(name: "only unready endpoints in same zone: no filtering", annotation: "auto",
             endpoints: [ep("10.1.2.3:80", zones: ["zone-a"], ready: false), ep("10.1.2.4:80", zones: ["zone-b"]),
                         ep("10.1.2.5:80", zones: ["zone-c"]), ep("10.1.2.6:80", zones: ["zone-a"], ready: false)],
             cluster: ["10.1.2.4:80", "10.1.2.5:80"], local: nil),
        Case(name: "missing hints: no filtering", annotation: "auto",
             endpoints: [ep("10.1.2.3:80", zones: ["zone-a"]), ep("10.1.2.4:80", zones: ["zone-b"]),
                         ep("10.1.2.5:80"), ep("10.1.2.6:80", zones: ["zone-a"])],
             cluster: allFour, local: nil),
        Case(name: "multiple hints per endpoint", zone: "zone-c", annotation: "auto",
             endpoints: [ep("10.1.2.3:80", zones: ["zone-a", "zone-b", "zone-c"]), ep("10.1.2.4:80", zones: ["zone-b", "zone-c"]),
                         ep("10.1.2.5:80", zones: ["zone-b", "zone-d"]), ep("10.1.2.6:80", zones: ["zone-c"])],
             cluster: ["10.1.2.3:80", "10.1.2.4:80", "10.1.2.6:80"], local: nil, mode: .sameZone),
        Case(name: "conflicting topology and localness merge allEndpoints", annotation: "auto", externalLocal: true,
             nodePort: true,
             endpoints: [ep("10.0.0.0:80", zones: ["zone-a"], local: true), ep("10.0.0.1:80", zones: ["zone-b"], local: true),
                         ep("10.0.0.2:80", zones: ["zone-a"]), ep("10.0.0.3:80", zones: ["zone-b"])],
             cluster: ["10.0.0.0:80", "10.0.0.2:80"], local: ["10.0.0.0:80", "10.0.0.1:80"],
             all: ["10.0.0.0:80", "10.0.0.1:80", "10.0.0.2:80"], mode: .sameZone),
        Case(name: "iTP Local with no endpoints", internalLocal: true, endpoints: [], cluster: nil, local: []),
        Case(name: "iTP Local, all endpoints remote", internalLocal: true,
             endpoints: [ep("10.0.0.0:80"), ep("10.0.0.1:80")], cluster: nil, local: [], onlyRemote: true),
        Case(name: "iTP Local, all endpoints local", internalLocal: true,
             endpoints: [ep("10.0.0.0:80", local: true), ep("10.0.0.1:80", local: true)],
             cluster: nil, local: ["10.0.0.0:80", "10.0.0.1:80"]),
        Case(name: "iTP Local, some endpoints local", internalLocal: true,
             endpoints: [ep("10.0.0.0:80", local: true), ep("10.0.0.1:80")], cluster: nil, local: ["10.0.0.0:80"]),
        Case(name: "Cluster policy, endpoints not ready",
             endpoints: [ep("10.0.0.0:80", ready: false), ep("10.0.0.1:80", ready: false)], cluster: [], local: nil),
        Case(name: "Cluster policy, some endpoints ready",
             endpoints: [ep("10.0.0.0:80", ready: false), ep("10.0.0.1:80")], cluster: ["10.0.0.1:80"], local: nil),
        Case(name: "Cluster policy, all endpoints terminating: fall back to serving+terminating",
             endpoints: [ep("10.0.0.0:80", ready: false, serving: true, terminating: true, local: true),
                         ep("10.0.0.1:80", ready: false, serving: true, terminating: true)],
             cluster: ["10.0.0.0:80", "10.0.0.1:80"], local: nil),
        Case(name: "terminating but not serving endpoints are never used",
             endpoints: [ep("10.0.0.0:80", ready: false, serving: false, terminating: true)], cluster: [], local: nil),
        Case(name: "iTP Local, eTP Cluster, some endpoints local", internalLocal: true, nodePort: true,
             endpoints: [ep("10.0.0.0:80", local: true), ep("10.0.0.1:80")],
             cluster: ["10.0.0.0:80", "10.0.0.1:80"], local: ["10.0.0.0:80"], all: ["10.0.0.0:80", "10.0.0.1:80"]),
        Case(name: "iTP Cluster, eTP Local, some endpoints local", externalLocal: true, nodePort: true,
             endpoints: [ep("10.0.0.0:80", local: true), ep("10.0.0.1:80")],
             cluster: ["10.0.0.0:80", "10.0.0.1:80"], local: ["10.0.0.0:80"], all: ["10.0.0.0:80", "10.0.0.1:80"]),
        Case(name: "iTP Local, eTP Local, some endpoints local", internalLocal: true, externalLocal: true, nodePort: true,
             endpoints: [ep("10.0.0.0:80", local: true), ep("10.0.0.1:80")],
             cluster: ["10.0.0.0:80", "10.0.0.1:80"], local: ["10.0.0.0:80"], all: ["10.0.0.0:80", "10.0.0.1:80"]),
        Case(name: "iTP Local, eTP Local, all endpoints remote", internalLocal: true, externalLocal: true, nodePort: true,
             endpoints: [ep("10.0.0.0:80"), ep("10.0.0.1:80")],
             cluster: ["10.0.0.0:80", "10.0.0.1:80"], local: [], all: ["10.0.0.0:80", "10.0.0.1:80"]),
        Case(name: "iTP Local, eTP Local, all endpoints remote and terminating", internalLocal: true,
             externalLocal: true, nodePort: true,
             endpoints: [ep("10.0.0.0:80", ready: false, serving: true, terminating: true),
                         ep("10.0.0.1:80", ready: false, serving: true, terminating: true)],
             cluster: ["10.0.0.0:80", "10.0.0.1:80"], local: [], all: ["10.0.0.0:80", "10.0.0.1:80"], onlyRemote: true),
        Case(name: "iTP Cluster, eTP Local, with terminating endpoints", externalLocal: true, nodePort: true,
             endpoints: [ep("10.0.0.0:80"), ep("10.0.0.1:80", ready: false, serving: false, local: true),
                         ep("10.0.0.2:80", ready: false, serving: true, terminating: true, local: true),
                         ep("10.0.0.3:80", ready: false, serving: true, terminating: true)],
             cluster: ["10.0.0.0:80"], local: ["10.0.0.2:80"], all: ["10.0.0.0:80", "10.0.0.2:80"]),
        Case(name: "externalTrafficPolicy ignored if not externally accessible", externalLocal: true,
             endpoints: [ep("10.0.0.0:80"), ep("10.0.0.1:80", local: true)],
             cluster: ["10.0.0.0:80", "10.0.0.1:80"], local: nil),
        Case(name: "no cluster endpoints for iTP Local internal-only service", internalLocal: true,
             endpoints: [ep("10.0.0.0:80"), ep("10.0.0.1:80", local: true)], cluster: nil, local: ["10.0.0.1:80"]),
        // trafficDistribution (KEP-4444 and KEP-3015): hints apply without the annotation.
        Case(name: "PreferClose uses zone hints", distribution: "PreferClose", endpoints: fourZoned,
             cluster: ["10.1.2.3:80", "10.1.2.6:80"], local: nil, mode: .sameZone),
        Case(name: "PreferSameZone uses zone hints", distribution: "PreferSameZone", endpoints: fourZoned,
             cluster: ["10.1.2.3:80", "10.1.2.6:80"], local: nil, mode: .sameZone),
        Case(name: "unknown trafficDistribution is ignored", distribution: "PreferFarAway", endpoints: fourZoned,
             cluster: allFour, local: nil),
        Case(name: "PreferSameNode uses node hints", distribution: "PreferSameNode",
             endpoints: [ep("10.0.0.1:80", zones: ["zone-a"], nodes: [node], local: true),
                         ep("10.0.0.2:80", zones: ["zone-a"], nodes: ["other-node"]),
                         ep("10.0.0.3:80", zones: ["zone-b"], nodes: ["node-3"])],
             cluster: ["10.0.0.1:80"], local: nil, mode: .sameNode),
        Case(name: "PreferSameNode without a hint for this node falls back to zone hints", distribution: "PreferSameNode",
             endpoints: [ep("10.0.0.2:80", zones: ["zone-a"], nodes: ["other-node"]),
                         ep("10.0.0.3:80", zones: ["zone-b"], nodes: ["node-3"])],
             cluster: ["10.0.0.2:80"], local: nil, mode: .sameZone),
        Case(name: "PreferSameNode with an endpoint lacking node hints uses zone hints", distribution: "PreferSameNode",
             endpoints: [ep("10.0.0.1:80", zones: ["zone-a"], nodes: [node], local: true),
                         ep("10.0.0.2:80", zones: ["zone-a"])],
             cluster: ["10.0.0.1:80", "10.0.0.2:80"], local: nil, mode: .sameZone),
        Case(name: "topology is ignored when falling back to terminating endpoints", distribution: "PreferClose",
             endpoints: [ep("10.0.0.1:80", zones: ["zone-b"], ready: false, serving: true, terminating: true),
                         ep("10.0.0.2:80", zones: ["zone-a"], ready: false, serving: true, terminating: true)],
             cluster: ["10.0.0.1:80", "10.0.0.2:80"], local: nil),
    ]

    @Test(arguments: cases)
    func categorise(_ c: Case) {
        let port = ServicePortInfo(
            name: ServicePortName(namespace: "ns", name: "svc", port: "p", protocol: .tcp), port: 80,
            nodePort: c.nodePort ? 30080 : nil, type: c.nodePort ? .nodePort : .clusterIP,
            clusterIPs: [IPAddress("10.96.0.1")!], externalPolicyLocal: c.externalLocal, internalPolicyLocal: c.internalLocal,
            trafficDistribution: c.distribution, topologyAnnotation: c.annotation)
        let result = EndpointCategorizer.categorize(c.endpoints, for: port, nodeName: Self.node, zone: c.zone)
        let names = { (list: [ServiceEndpoint]) in Set(list.map(\.description)) }

        if let cluster = c.cluster {
            #expect(names(result.cluster) == cluster, "cluster endpoints")
        } else {
            #expect(result.cluster.isEmpty && !port.usesClusterEndpoints, "the Service uses no cluster endpoints")
        }
        if let local = c.local {
            #expect(port.usesLocalEndpoints, "the Service uses local endpoints")
            #expect(names(result.local) == local, "local endpoints")
        } else {
            #expect(result.local.isEmpty && !port.usesLocalEndpoints, "the Service uses no local endpoints")
        }
        let expectedAll: Set<String>
        switch (c.cluster, c.local) {
        case (let cluster?, nil): expectedAll = cluster
        case (nil, let local?): expectedAll = local
        default: expectedAll = c.all ?? []
        }
        #expect(names(result.allReachable) == expectedAll, "all reachable endpoints")
        #expect(result.hasAnyEndpoints == (!expectedAll.isEmpty || c.onlyRemote), "hasAnyEndpoints")
        #expect(result.topologyMode == c.mode, "topology mode")
    }
}
