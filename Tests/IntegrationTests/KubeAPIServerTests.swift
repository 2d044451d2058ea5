import ClusterModel
import Foundation
import KubeClient
import Testing

/// The issue's end-to-end suite against a real kube-apiserver 1.20.2 (items 1–8), one server per run.
@Suite(.serialized, .enabled(if: KubeHarness.unavailableReason == nil, "\(KubeHarness.unavailableReason ?? "")"))
struct KubeAPIServerTests {
    static let kproxyBinary: String? = ["debug", "release"].map { KubeHarness.root + "/.build/\($0)/kproxy" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    func harness() async throws -> KubeHarness {
        try await KubeHarness.shared.get()
    }

    func service(_ namespace: String, _ name: String) -> ServiceKey { ServiceKey(namespace: namespace, name: name) }

    /// Items 1–3: deploy/'s RBAC, a pod-style token, `kproxy inspect`, and kubectl changes within 2 s.
    @Test func inspectAndLiveChanges() async throws {
        let harness = try await harness()
        if let binary = KubeAPIServerTests.kproxyBinary {
            let result = await KubeHarness.run(
                [binary, "inspect", "--serviceaccount-dir", harness.serviceAccountDir, "--node", "node-a"],
                env: ["KUBERNETES_SERVICE_HOST": harness.host, "KUBERNETES_SERVICE_PORT": "\(harness.port)"])
            KubeLog.record(result.stdout + result.stderr)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("service default/kubernetes type=ClusterIP"))
        } else {
            print("skipping the kproxy CLI part: build the kproxy binary first (swift build)")
        }

        let model = try LiveModel(config: harness.inClusterConfig(serviceAccountDir: harness.serviceAccountDir))
        #expect(await model.wait(timeout: .seconds(10)) { $0.synced })
        #expect(model.snapshot.state.snapshot.services[service("default", "kubernetes")] != nil)

        try await harness.kubectl(["create", "namespace", "kt-live"])
        try await harness.kubectl(["-n", "kt-live", "create", "service", "clusterip", "web", "--tcp=80:8080"])
        #expect(await model.wait { $0.state.snapshot.services[service("kt-live", "web")] != nil }, "create within 2 s")

        try await harness.kubectl(
            ["apply", "-f", "-"],
            stdin: """
                apiVersion: discovery.k8s.io/v1beta1
                kind: EndpointSlice
                metadata:
                  name: web-1
                  namespace: kt-live
                  labels: {kubernetes.io/service-name: web}
                addressType: IPv4
                ports: [{name: 80-8080, port: 8080, protocol: TCP}]
                endpoints:
                - addresses: [10.244.1.5]
                  conditions: {ready: true}
                  topology: {kubernetes.io/hostname: node-a}
                """)
        #expect(
            await model.wait { seen in
                seen.state.snapshot.services[service("kt-live", "web")]?.endpoints.contains {
                    $0.address.description == "10.244.1.5"
                } == true
            }, "EndpointSlice within 2 s")

        try await harness.kubectl([
            "-n", "kt-live", "patch", "service", "web", "--type=json",
            "-p", #"[{"op":"replace","path":"/spec/ports/0/port","value":81}]"#,
        ])
        #expect(
            await model.wait { seen in
                seen.state.snapshot.servicePorts.values.contains {
                    $0.name.service == service("kt-live", "web") && $0.port == 81
                }
            }, "update within 2 s")

        try await harness.kubectl(["-n", "kt-live", "delete", "endpointslice", "web-1"])
        #expect(
            await model.wait { $0.state.snapshot.services[service("kt-live", "web")]?.endpoints.isEmpty == true },
            "slice delete within 2 s")
        try await harness.kubectl(["-n", "kt-live", "delete", "service", "web"])
        #expect(await model.wait { $0.state.snapshot.services[service("kt-live", "web")] == nil }, "delete within 2 s")
        #expect(model.snapshot.problems.isEmpty, "\(model.snapshot.problems)")
        await model.stop()
        KubeLog.expectNoToken(from: [harness.serviceAccountDir + "/token"])
    }

    /// The own Node and this node's Pods by field selector, `inspect --watch`, and the Events recorder.
    @Test func nodePodsWatchOutputAndEvents() async throws {
        let harness = try await harness()
        try await harness.kubectl(["create", "namespace", "kt-node"])
        try await harness.kubectl(["-n", "kt-node", "create", "serviceaccount", "default"])
        for node in ["node-a", "node-b"] {
            try await harness.kubectl(
                ["apply", "-f", "-"],
                stdin: """
                    apiVersion: v1
                    kind: Node
                    metadata: {name: \(node), labels: {topology.kubernetes.io/zone: zone-\(node)}}
                    spec: {podCIDR: \(node == "node-a" ? "10.244.1.0/24" : "10.244.2.0/24")}
                    """)
            try await harness.kubectl(
                ["apply", "-f", "-"],
                stdin: """
                    apiVersion: v1
                    kind: Pod
                    metadata: {name: pod-on-\(node), namespace: kt-node}
                    spec:
                      nodeName: \(node)
                      automountServiceAccountToken: false
                      containers: [{name: c, image: registry.invalid/none}]
                    """)
        }
        let watch = ClusterWatch(
            nodeName: "node-a", includePods: true,
            reflector: ReflectorOptions(backoff: Backoff(initial: .milliseconds(100), maximum: .seconds(1))))
        let model = try LiveModel(
            config: harness.inClusterConfig(serviceAccountDir: harness.serviceAccountDir), watch: watch)
        #expect(await model.wait(timeout: .seconds(10)) { $0.synced })
        let snapshot = model.snapshot.state.snapshot
        #expect(snapshot.nodes.keys.sorted() == ["node-a"], "only the own Node (metadata.name=node-a)")
        #expect(snapshot.localNode?.zone == "zone-node-a")
        #expect(snapshot.pods.keys.map(\.name) == ["pod-on-node-a"], "only this node's Pods (spec.nodeName)")

        // Events: posted once, the repeat held back by the rate limiter.
        let recorder = EventRecorder(client: model.client, host: "node-a")
        let subject = EventSubject(kind: "Service", namespace: "default", name: "kubernetes")
        #expect(await recorder.record(.warning, reason: "KproxyTest", message: "cannot program", about: subject))
        #expect(!(await recorder.record(.warning, reason: "KproxyTest", message: "again", about: subject)))
        let events = try await harness.kubectl([
            "-n", "default", "get", "events", "--field-selector", "reason=KproxyTest", "-o",
            "jsonpath={.items[*].message}",
        ])
        #expect(events == "cannot program")
        await model.stop()

        if let binary = KubeAPIServerTests.kproxyBinary {
            async let output = KubeHarness.run(
                [
                    "/usr/bin/timeout", "8", binary, "inspect", "--watch", "--serviceaccount-dir",
                    harness.serviceAccountDir,
                ],
                env: ["KUBERNETES_SERVICE_HOST": harness.host, "KUBERNETES_SERVICE_PORT": "\(harness.port)"])
            try await Task.sleep(for: .seconds(4))
            try await harness.kubectl(["-n", "kt-node", "create", "service", "clusterip", "watched", "--tcp=53:53"])
            let result = await output
            KubeLog.record(result.stdout + result.stderr)
            #expect(result.status == 124, "--watch runs until stopped")
            #expect(result.stdout.contains("service default/kubernetes"))
            #expect(result.stdout.contains("\n--- "), "a change section after the first model")
            #expect(result.stdout.contains("service kt-node/watched type=ClusterIP"), "\(result.stdout)")
        }
        KubeLog.expectNoToken(from: [harness.serviceAccountDir + "/token"])
    }

    /// The "hard way" install: a kubeconfig with a client certificate (relative paths) and the CA inline.
    @Test func kubeconfigWithClientCertificate() async throws {
        let harness = try await harness()
        let dir = harness.stateDir + "/kubeconfig-cert"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let mint = await KubeHarness.run([
            "/bin/sh", "-c",
            """
            set -e; cd '\(dir)'
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=kproxy-cert-user \
              -keyout client.key -out client.csr 2>/dev/null
            openssl x509 -req -in client.csr -CA '\(harness.env["CA_FILE"] ?? "")' \
              -CAkey '\(harness.env["CA_KEY_FILE"] ?? "")' -CAcreateserial -days 1 -out client.crt 2>/dev/null
            """,
        ])
        #expect(mint.status == 0, "\(mint.stderr)")
        try await harness.kubectl([
            "create", "clusterrolebinding", "kproxy-cert-user", "--clusterrole=kproxy", "--user=kproxy-cert-user",
        ])
        let ca = try Data(contentsOf: URL(fileURLWithPath: harness.env["CA_FILE"] ?? "")).base64EncodedString()
        let kubeconfig = dir + "/kubeconfig"
        try Data(
            """
            apiVersion: v1
            kind: Config
            clusters:
            - name: harness
              cluster: {server: "https://\(harness.host):\(harness.port)", certificate-authority-data: \(ca)}
            users:
            - name: kproxy
              user: {client-certificate: client.crt, client-key: client.key}
            contexts:
            - name: kproxy
              context: {cluster: harness, user: kproxy}
            current-context: kproxy
            """.utf8
        ).write(to: URL(fileURLWithPath: kubeconfig))
        let config = try ConnectionConfig.kubeconfig(path: kubeconfig)
        #expect(config.token == nil)
        let model = try LiveModel(config: config)
        #expect(await model.wait(timeout: .seconds(10)) { $0.synced }, "\(model.snapshot.problems)")
        #expect(model.snapshot.state.snapshot.services[service("default", "kubernetes")] != nil)
        await model.stop()

        if let binary = KubeAPIServerTests.kproxyBinary {
            let result = await KubeHarness.run([binary, "inspect", "--kubeconfig", kubeconfig])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("service default/kubernetes"))
        }
    }

    /// Nothing the suite logged, kproxy's CLI printed, or the API server logged holds a ServiceAccount token.
    @Test func noLogLineHoldsAToken() async throws {
        let harness = try await harness()
        for log in ["apiserver.log", "etcd.log"] {
            if let text = try? String(contentsOfFile: harness.stateDir + "/" + log, encoding: .utf8) {
                KubeLog.record(text)
            }
        }
        KubeLog.expectNoToken(from: [harness.serviceAccountDir + "/token"])
    }

    /// Item 4: no binding gives the 403 message; binding it later recovers the same running client.
    @Test func forbiddenThenRecoveredAfterBinding() async throws {
        let harness = try await harness()
        let dir = harness.stateDir + "/sa-unbound"
        try await harness.serviceAccount("kproxy-unbound", into: dir)
        let model = try LiveModel(config: harness.inClusterConfig(serviceAccountDir: dir))
        #expect(
            await model.wait(timeout: .seconds(10)) { seen in
                seen.problems.contains { error in
                    guard case .forbidden = error else { return false }
                    let text = error.description
                    return text.contains("system:serviceaccount:kube-system:kproxy-unbound")
                        && text.contains("cannot list")
                        && text.contains("deploy/rbac.yaml")
                }
            }, "\(model.snapshot.problems)")
        #expect(!model.snapshot.synced)
        try await harness.kubectl([
            "create", "clusterrolebinding", "kproxy-unbound", "--clusterrole=kproxy",
            "--serviceaccount=kube-system:kproxy-unbound",
        ])
        #expect(await model.wait(timeout: .seconds(15)) { $0.synced }, "recovers without a restart")
        await model.stop()
        KubeLog.expectNoToken(from: [dir + "/token"])
    }

    /// Item 5: an invalid token gives the 401 message naming the file; a valid one written later recovers.
    @Test func unauthorizedThenRecoveredAfterNewToken() async throws {
        let harness = try await harness()
        let dir = harness.stateDir + "/sa-rotating"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for file in ["ca.crt", "namespace"] {
            // Copy the content: the pod layout's files are relative symlinks into `..data`.
            let content = try Data(contentsOf: URL(fileURLWithPath: harness.serviceAccountDir + "/" + file))
            try content.write(to: URL(fileURLWithPath: dir + "/" + file))
        }
        try Data("not-a-valid-token".utf8).write(to: URL(fileURLWithPath: dir + "/token"))
        let model = try LiveModel(config: harness.inClusterConfig(serviceAccountDir: dir))
        let expected = "the API server rejected the ServiceAccount token from \(dir)/token: Unauthorized"
        #expect(
            await model.wait(timeout: .seconds(10)) { $0.problems.contains { $0.description == expected } },
            "\(model.snapshot.problems)")
        let valid = try Data(contentsOf: URL(fileURLWithPath: harness.serviceAccountDir + "/token"))
        try valid.write(to: URL(fileURLWithPath: dir + "/token"), options: .atomic)
        #expect(await model.wait(timeout: .seconds(10)) { $0.synced }, "recovers once the file holds a valid token")
        await model.stop()
        KubeLog.expectNoToken(from: [dir + "/token"])
    }

    /// Items 6 and 7: restart kube-apiserver mid-watch and compact etcd; changes made while kproxy was cut
    /// off (deletions included) must arrive, via the 410 → re-list path.
    @Test func apiserverRestartAndCompactionConverge() async throws {
        let harness = try await harness()
        try await harness.kubectl(["create", "namespace", "kt-restart"])
        try await harness.kubectl(["-n", "kt-restart", "create", "service", "clusterip", "doomed", "--tcp=80"])
        // A slow first retry keeps kproxy disconnected for a while after the server is back.
        let watch = ClusterWatch(
            nodeName: "node-a",
            reflector: ReflectorOptions(
                backoff: Backoff(initial: .seconds(6), maximum: .seconds(6), jitter: 0), watchTimeoutSeconds: 120))
        let model = try LiveModel(
            config: harness.inClusterConfig(serviceAccountDir: harness.serviceAccountDir), watch: watch)
        #expect(
            await model.wait(timeout: .seconds(10)) {
                $0.state.snapshot.services[service("kt-restart", "doomed")] != nil
            })
        let relistsBefore = model.snapshot.serviceRelists
        // Move etcd's revision past kproxy's Service version with an object kproxy does not watch: the
        // restarted server's watch cache then starts after that version and answers kproxy's resume with 410.
        try await harness.kubectl(["-n", "kt-restart", "create", "configmap", "bump"])

        try await harness.restartAPIServer()
        // The server is back; kproxy is still backing off. Change things now.
        try await harness.kubectl(["-n", "kt-restart", "delete", "service", "doomed"])
        try await harness.kubectl(["-n", "kt-restart", "create", "service", "clusterip", "born", "--tcp=80"])
        try await harness.compactEtcd()

        #expect(
            await model.wait(timeout: .seconds(30)) { seen in
                seen.state.snapshot.services[service("kt-restart", "doomed")] == nil
                    && seen.state.snapshot.services[service("kt-restart", "born")] != nil
            }, "converges after the restart; problems: \(model.snapshot.problems)")
        #expect(model.snapshot.serviceRelists > relistsBefore, "the stale version was answered with 410 and re-listed")
        #expect(
            model.snapshot.problems.contains { if case .connectionRefused = $0 { true } else { false } }
                || model.snapshot.problems.contains { if case .transport = $0 { true } else { false } })

        // After convergence the watch is live again.
        try await harness.kubectl(["-n", "kt-restart", "create", "service", "clusterip", "after", "--tcp=80"])
        #expect(await model.wait { $0.state.snapshot.services[service("kt-restart", "after")] != nil })
        await model.stop()
        KubeLog.expectNoToken(from: [harness.serviceAccountDir + "/token"])
    }

    /// Item 8: a wrong CA is a clear TLS error naming the CA file and the server; the CLI prints it as it retries.
    @Test func wrongCAIsATLSError() async throws {
        let harness = try await harness()
        let dir = harness.stateDir + "/sa-wrong-ca"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for file in ["token", "namespace"] {
            // Copy the content: the pod layout's files are relative symlinks into `..data`.
            let content = try Data(contentsOf: URL(fileURLWithPath: harness.serviceAccountDir + "/" + file))
            try content.write(to: URL(fileURLWithPath: dir + "/" + file))
        }
        let made = await KubeHarness.run([
            "/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-days", "1", "-subj", "/CN=wrong-ca", "-keyout", dir + "/wrong.key", "-out", dir + "/ca.crt",
        ])
        #expect(made.status == 0)
        let model = try LiveModel(config: harness.inClusterConfig(serviceAccountDir: dir))
        #expect(await model.wait(timeout: .seconds(40)) { !$0.problems.isEmpty })
        let problem = model.snapshot.problems.first
        guard case .tls(let server, let caSource, _) = problem else {
            Issue.record("expected a TLS error, got \(String(describing: problem))")
            await model.stop()
            return
        }
        #expect(server == "https://\(harness.host):\(harness.port)")
        #expect(caSource == dir + "/ca.crt")
        #expect(!model.snapshot.synced)
        await model.stop()

        if let binary = KubeAPIServerTests.kproxyBinary {
            // The CLI keeps retrying (and printing) until `timeout` stops it.
            let result = await KubeHarness.run(
                ["/usr/bin/timeout", "6", binary, "inspect", "--serviceaccount-dir", dir],
                env: ["KUBERNETES_SERVICE_HOST": harness.host, "KUBERNETES_SERVICE_PORT": "\(harness.port)"])
            KubeLog.record(result.stdout + result.stderr)
            #expect(result.status == 124)
            #expect(
                result.stderr.contains(
                    "error (Services): TLS handshake with https://\(harness.host):\(harness.port) failed")
                    || result.stderr.contains(
                        "error: TLS handshake with https://\(harness.host):\(harness.port) failed"),
                "\(result.stderr)")
            #expect(result.stderr.contains(dir + "/ca.crt"))
        }
        KubeLog.expectNoToken(from: [dir + "/token"])
    }
}
