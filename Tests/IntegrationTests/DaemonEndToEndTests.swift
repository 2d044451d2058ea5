import Foundation
import Glibc
import Testing

/// `kproxy run` as an operator runs it: a real kube-apiserver, a real ServiceAccount token bound by
/// deploy/rbac.yaml, and real traffic through the node namespace it programs.
@Suite(
    "kproxy run end to end", .serialized,
    .enabled(
        if: NetfilterEnvironment.available && KProxyBinary.available && KubeHarness.unavailableReason == nil,
        "needs root, nft, kubectl and etcd (run `make test` as root)"))
struct DaemonEndToEndTests {
    static let namespace = "e2e"

    static func service(_ name: String, clusterIP: String, port: Int, targetPort: Int, protocol: String = "TCP")
        -> String
    {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name), namespace: \(namespace)}
        spec:
          clusterIP: \(clusterIP)
          ports: [{name: p, port: \(port), targetPort: \(targetPort), protocol: \(`protocol`)}]
        """
    }

    /// A v1beta1 slice (the only version 1.20 serves) with pods given by index and readiness.
    static func slice(_ service: String, port: Int, protocol: String = "TCP", pods: [(index: Int, ready: Bool)]) -> String {
        let endpoints = pods.map { pod in
            """
              - addresses: [\(TrafficTopology.podIP(pod.index))]
                conditions: {ready: \(pod.ready)}
                topology: {kubernetes.io/hostname: node-a}
            """
        }.joined(separator: "\n")
        return """
            apiVersion: discovery.k8s.io/v1beta1
            kind: EndpointSlice
            metadata:
              name: \(service)-1
              namespace: \(namespace)
              labels: {kubernetes.io/service-name: \(service)}
            addressType: IPv4
            ports: [{name: p, port: \(port), protocol: \(`protocol`)}]
            endpoints:
            \(endpoints)
            """
    }

    static let node = """
        apiVersion: v1
        kind: Node
        metadata: {name: node-a, labels: {topology.kubernetes.io/zone: zone-a}}
        """

    static func config(dns: Int, healthz: Int, metrics: Int) -> String {
        """
        apiVersion: kubeproxy.config.k8s.io/v1alpha1
        kind: KubeProxyConfiguration
        healthzBindAddress: 127.0.0.1:\(healthz)
        metricsBindAddress: 127.0.0.1:\(metrics)
        clusterCIDR: 10.244.0.0/16
        nodePortAddresses: [\(TrafficTopology.nodeIP)/32]
        nftables: {syncPeriod: 5s, minSyncPeriod: 100ms}
        dns:
          listen: [127.0.0.1:\(dns)]
          upstreams: []
        """
    }

    /// The pods that answered, counted.
    static func hits(_ answers: [TrafficTopology.Answer]) -> [String: Int] {
        answers.reduce(into: [:]) { counts, answer in
            if let pod = answer.body?.split(separator: " ").first { counts[String(pod), default: 0] += 1 }
        }
    }

    @Test func fromKubectlToTheKernelAndBack() async throws {
        let harness = try await KubeHarness.shared.get()
        let deploy = KubeHarness.root + "/deploy"
        // The shipped manifests are accepted by a real server (the DaemonSet's image is never pulled).
        let dryRun = try await harness.kubectl(["apply", "--dry-run=server", "-f", deploy])
        #expect(dryRun.contains("daemonset.apps/kproxy"))

        let topology = try TrafficTopology()
        _ = try? await harness.kubectl(["delete", "namespace", Self.namespace, "--wait=false"])
        _ = try? await harness.kubectl(["delete", "node", "node-a"])
        try await harness.kubectl(["create", "namespace", Self.namespace])
        try await harness.kubectl(["apply", "-f", "-"], stdin: Self.node)
        try await harness.kubectl(
            ["patch", "node", "node-a", "--subresource=status", "--type=merge", "-p",
             #"{"status":{"addresses":[{"type":"InternalIP","address":"\#(TrafficTopology.nodeIP)"}]}}"#])

        let (dns, healthz, metrics) = (try freeLoopbackPort(), try freeLoopbackPort(), try freeLoopbackPort())
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("kproxy-e2e-\(UUID().uuidString).yaml")
        try Self.config(dns: dns, healthz: healthz, metrics: metrics).write(to: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: config) }
        let arguments = [
            "--config", config.path, "--serviceaccount-dir", harness.serviceAccountDir, "--hostname-override", "node-a",
            "--netns", topology.node.name,
        ]
        let environment = ["KUBERNETES_SERVICE_HOST": harness.host, "KUBERNETES_SERVICE_PORT": "\(harness.port)"]
        var daemon = try DaemonProcess(arguments, environment: environment)
        defer { daemon.terminate() }
        let synced = {
            let body = (try? run(["curl", "-s", "http://127.0.0.1:\(healthz)/healthz"])) ?? ""
            return body.contains("lastUpdated") && !body.contains(#""lastUpdated": """#)
        }
        #expect(waitUntil(seconds: 20, synced), "kproxy synced from the API server\n\(daemon.output)")

        // A new Service with one endpoint: reachable through its ClusterIP, and resolvable, within 2 s.
        try await harness.kubectl(["apply", "-f", "-"], stdin: Self.service("web", clusterIP: "10.96.50.10", port: 80, targetPort: 8080))
        try await harness.kubectl(["apply", "-f", "-"], stdin: Self.slice("web", port: 8080, pods: [(0, true)]))
        let url = "http://10.96.50.10/"
        #expect(waitUntil(seconds: 2) { (try? topology.fetch(url, from: topology.client, timeout: 0.3).answers.first?.body) != nil },
                "the ClusterIP answers within 2 s\n\(daemon.output)")
        let name = "web.\(Self.namespace).svc.cluster.local"
        #expect(waitUntil(seconds: 2) { (try? run(["dig", "+short", "@127.0.0.1", "-p", "\(dns)", name])) == "10.96.50.10\n" },
                "DNS answers the new ClusterIP within 2 s")

        // Three endpoints share the traffic.
        try await harness.kubectl(["apply", "-f", "-"], stdin: Self.slice("web", port: 8080, pods: [(0, true), (1, true), (2, true)]))
        #expect(waitUntil(seconds: 3) { Self.hits(((try? topology.fetch(url, from: topology.client, count: 30))?.answers) ?? []).count == 3 },
                "traffic spreads over three endpoints")

        // One endpoint goes not-ready (a terminating pod on 1.20): it drains.
        try await harness.kubectl(["apply", "-f", "-"], stdin: Self.slice("web", port: 8080, pods: [(0, true), (1, true), (2, false)]))
        #expect(waitUntil(seconds: 3) {
            let hits = Self.hits(((try? topology.fetch(url, from: topology.client, count: 30))?.answers) ?? [])
            return hits.count == 2 && hits["pod-3"] == nil
        }, "the not-ready endpoint gets no new connections")

        // A UDP flow pinned to an endpoint that goes away is cleaned from conntrack: the same client port
        // reaches the new endpoint at once instead of black-holing until the entry expires.
        try await harness.kubectl(["apply", "-f", "-"], stdin: Self.service("echo", clusterIP: "10.96.50.20", port: 53, targetPort: 5353, protocol: "UDP"))
        try await harness.kubectl(["apply", "-f", "-"], stdin: Self.slice("echo", port: 5353, protocol: "UDP", pods: [(0, true)]))
        #expect(waitUntil(seconds: 3) {
            (try? topology.udp("10.96.50.20", port: 53, payload: "a", from: topology.client, sourcePort: 40001)) == "pod-1 a"
        })
        try await harness.kubectl(["apply", "-f", "-"], stdin: Self.slice("echo", port: 5353, protocol: "UDP", pods: [(1, true)]))
        #expect(waitUntil(seconds: 3) {
            (try? topology.udp("10.96.50.20", port: 53, payload: "b", from: topology.client, sourcePort: 40001)) == "pod-2 b"
        }, "the stale UDP flow was deleted\n\(daemon.output)")

        // Metrics show the syncs and the programming latency.
        let scrape = try run(["curl", "-s", "http://127.0.0.1:\(metrics)/metrics"])
        #expect(scrape.contains("kproxy_sync_proxy_rules_duration_seconds_count"))
        #expect(scrape.contains("kproxy_network_programming_duration_seconds_count"))
        #expect(scrape.contains("kproxy_conntrack_entries_cleared_total"))

        // A restart has no traffic gap: the rules stay while no kproxy runs, and the new one adopts them.
        let loop = Process()
        loop.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        loop.arguments = ["ip", "netns", "exec", topology.client.name, "sh", "-c",
                          "for i in $(seq 40); do curl -s --max-time 1 \(url) >/dev/null && echo ok || echo fail; sleep 0.05; done"]
        let loopOutput = Pipe()
        loop.standardOutput = loopOutput
        try loop.run()
        usleep(500_000)
        #expect(daemon.terminate() == 0)
        daemon = try DaemonProcess(arguments, environment: environment)
        let results = String(decoding: loopOutput.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        loop.waitUntilExit()
        #expect(results.split(separator: "\n").count == 40)
        #expect(!results.contains("fail"), "no request failed across the restart")
        #expect(waitUntil(seconds: 20, synced), "the new instance synced\n\(daemon.output)")

        // Deleting the Service makes its ClusterIP refuse at once (REJECT, not a timeout).
        try await harness.kubectl(["delete", "service", "web", "-n", Self.namespace])
        #expect(waitUntil(seconds: 3) {
            (try? topology.fetch(url, from: topology.client, timeout: 1).answers.first) == .failed(7)
        }, "the deleted Service's ClusterIP is refused")

        #expect(daemon.terminate() == 0)
        try run([KProxyBinary.path, "cleanup", "--netns", topology.node.name])
        #expect(!(try topology.node.ruleset()).contains("kproxy"))
        _ = try? await harness.kubectl(["delete", "namespace", Self.namespace, "--wait=false"])
        _ = try? await harness.kubectl(["delete", "node", "node-a"])
    }
}
