import ClusterModel
import Foundation
import KubeModel
import Testing

@testable import RuleSynth

/// Synthesis from cluster snapshots built from manifests, as the daemon builds them.
@Suite("Snapshots")
struct SnapshotTests {
    static let manifests = """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: demo}
        spec:
          clusterIP: 10.96.0.20
          clusterIPs: [10.96.0.20]
          ports: [{name: http, port: 80, protocol: TCP}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: db, namespace: demo}
        spec:
          clusterIP: None
          clusterIPs: [None]
          ports: [{name: pg, port: 5432, protocol: TCP}]
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: mail, namespace: demo}
        spec:
          type: ExternalName
          externalName: mail.example.com
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: other
          namespace: demo
          labels: {service.kubernetes.io/service-proxy-name: someone-else}
        spec:
          clusterIP: 10.96.0.21
          clusterIPs: [10.96.0.21]
          ports: [{name: http, port: 80, protocol: TCP}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: web-1
          namespace: demo
          labels: {kubernetes.io/service-name: web}
        addressType: IPv4
        endpoints:
        - addresses: [10.244.1.5]
          conditions: {ready: true}
          nodeName: node1
        ports: [{name: http, port: 8080, protocol: TCP}]
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: db-1
          namespace: demo
          labels: {kubernetes.io/service-name: db, service.kubernetes.io/headless: ""}
        addressType: IPv4
        endpoints:
        - addresses: [10.244.1.6]
          conditions: {ready: true}
        ports: [{name: pg, port: 5432, protocol: TCP}]
        """

    static func state() -> ClusterState {
        let load = ManifestLoader.parse(manifests, file: "inline.yaml")
        #expect(load.errors.isEmpty, "\(load.errors)")
        var state = ClusterState(nodeName: Fixtures.nodeName)
        state.apply(load.events)
        return state
    }

    @Test("Headless, ExternalName and other proxies' Services get no rules at all")
    func onlyProxiedServices() throws {
        let ruleset = synthesize(Self.state().snapshot, node: Fixtures.node)
        let table = try #require(ruleset.table(.ip))
        let serviceChains = table.chains.keys.filter { $0.contains("/") }
        #expect(
            serviceChains == [
                ServiceFragment.Names(ServicePortName(namespace: "demo", name: "web", port: "http", protocol: .tcp))
                    .cluster
            ])
        let text = ruleset.render()
        for absent in ["10.96.0.21", "5432", "10.244.1.6", "mail"] { #expect(!text.contains(absent)) }
        #expect(text.contains("meta l4proto tcp dnat to 10.244.1.5:8080"))
    }

    @Test("Synthesizing a ChangeSet's ports gives what a full synthesis gives")
    func incrementalMatchesFull() throws {
        var state = Self.state()
        _ = state.takeChanges()
        var synthesizer = RuleSynthesizer(node: Fixtures.node)
        synthesizer.synthesize(state.snapshot)
        let slice = """
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: web-1
              namespace: demo
              labels: {kubernetes.io/service-name: web}
            addressType: IPv4
            endpoints:
            - addresses: [10.244.2.7]
              conditions: {ready: true}
            - addresses: [10.244.2.8]
              conditions: {ready: false, serving: true, terminating: true}
            ports: [{name: http, port: 8080, protocol: TCP}]
            """
        state.apply(ManifestLoader.parse(slice, file: "slice.yaml").objects.map { .upsert($0) })
        let changes = state.takeChanges()
        #expect(!changes.servicePorts.isEmpty)
        let incremental = synthesizer.synthesize(state.snapshot, changed: changes.servicePorts)
        #expect(incremental == synthesize(state.snapshot, node: Fixtures.node))
        #expect(incremental.render().contains("dnat to 10.244.2.7:8080"))
        #expect(!incremental.render().contains("10.244.1.5"))
    }
}
