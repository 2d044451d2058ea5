import ClusterModel
import Foundation
import KubeModel
import Testing

@Suite("Manifest loader")
struct ManifestLoaderTests {
    static let demo = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("deploy/examples/demo-cluster").path

    @Test func demoClusterLoadsCleanly() throws {
        let load = try ManifestLoader.load(directory: Self.demo)
        #expect(load.errors.isEmpty, "\(load.errors)")
        var state = ClusterState(nodeName: "node-a")
        state.apply(load.events)
        let snapshot = state.snapshot
        #expect(snapshot.services[ServiceKey(namespace: "default", name: "kubernetes")] != nil)
        #expect(snapshot.services[ServiceKey(namespace: "kube-system", name: "kube-dns")] != nil)
        #expect(snapshot.localNode?.zone == "zone-a")
        #expect(snapshot.nodes.count == 2)
        let web = snapshot.servicePorts.values.first { $0.name.service.name == "web" }
        #expect(web != nil)
        #expect(snapshot.endpoints(for: web!.name).contains { $0.terminating })
        #expect(!snapshot.pods.isEmpty)
    }

    @Test func multiDocumentListAndJSON() {
        let text = """
            apiVersion: v1
            kind: Service
            metadata: {name: a, namespace: x}
            spec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}
            ---
            # a comment-only document is fine
            ---
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Service
              metadata: {name: b, namespace: x}
              spec: {clusterIP: 10.96.0.2, ports: [{port: 81}]}
            - apiVersion: apps/v1
              kind: Deployment
              metadata: {name: ignored}
            ---
            {"apiVersion": "discovery.k8s.io/v1beta1", "kind": "EndpointSlice",
             "metadata": {"name": "a-1", "namespace": "x", "labels": {"kubernetes.io/service-name": "a"}},
             "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.0.5"], "topology": {"kubernetes.io/hostname": "n"}}],
             "ports": [{"port": 8080}]}
            """
        let load = ManifestLoader.parse(text, file: "mixed.yaml")
        #expect(load.errors.isEmpty, "\(load.errors)")
        #expect(load.objects.count == 3)
        if case .endpointSlice(let slice) = load.objects.last {
            #expect(slice.endpoints.first?.nodeName == "n")
        } else {
            Issue.record("the last object is the EndpointSlice")
        }
    }

    @Test func errorsNameFileDocumentAndField() {
        let text = """
            apiVersion: v1
            kind: Service
            metadata: {name: good, namespace: x}
            spec: {clusterIP: 10.96.0.1, ports: [{port: 80}]}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: web, namespace: default}
            spec:
              clusterIP: 10.96.0.2
              ports: [{port: 80}, {port: 81}, {port: 70000}]
            ---
            apiVersion: v1
            kind: List
            items:
            - apiVersion: v1
              kind: Service
              metadata: {name: bad-ip, namespace: x}
              spec: {clusterIP: 300.1.1.1}
            """
        let load = ManifestLoader.parse(text, file: "svc.yaml")
        #expect(load.objects.count == 1)
        #expect(load.errors.map(\.description) == [
            "svc.yaml: document 1: default/web: spec.ports[2].port: 70000 is not a valid port",
            #"svc.yaml: document 2: items[0]: x/bad-ip: spec.clusterIP: "300.1.1.1" is not a valid IP address"#,
        ])
    }

    @Test func brokenYAMLIsAnErrorNotACrash() {
        let load = ManifestLoader.parse("kind: Service\n  metadata: [unclosed\n", file: "broken.yaml")
        #expect(load.objects.isEmpty)
        #expect(load.errors.count == 1)
        #expect(load.errors.first?.description.hasPrefix("broken.yaml") == true)
        #expect(load.errors.first?.description.contains("invalid YAML") == true)
    }

    @Test func documentWithoutKindIsReported() {
        let load = ManifestLoader.parse("apiVersion: v1\nmetadata: {name: x}\n", file: "f.yaml")
        #expect(load.errors.map(\.description) == ["f.yaml: document 0: kind: is required"])
    }

    @Test func missingDirectoryIsAnError() {
        #expect(throws: ManifestError.self) { try ManifestLoader.load(directory: "/nonexistent/kproxy") }
    }
}
