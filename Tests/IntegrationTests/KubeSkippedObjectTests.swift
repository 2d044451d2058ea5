import ClusterModel
import Daemon
import Foundation
import KubeClient
import Synchronization
import Testing

/// Issue item "a Service with an invalid spec is skipped with an Event, and the other Services keep working".
///
/// The 1.20 API server validates Services at least as strictly as kproxy (even its Go 1.19 build rejects
/// leading-zero IPs), so no kubectl-created Service is one kproxy rejects. Such objects still reach clients
/// from etcd written by other means (an older server, a restore, a bug), so the test writes them to etcd
/// directly: the server serves stored objects without validating them again.
extension KubeAPIServerTests {
    @Test func aServiceKproxyCannotReadGetsAnEventAndTheOthersSync() async throws {
        let harness = try await harness()
        try await harness.kubectl(["create", "namespace", "kt-skip"])
        try await harness.kubectl(["-n", "kt-skip", "create", "service", "clusterip", "good", "--tcp=80"])
        try await harness.putRawService(namespace: "kt-skip", name: "bad-listed", uid: UUID().uuidString)

        let client = try KubeClient(
            config: harness.inClusterConfig(serviceAccountDir: harness.serviceAccountDir), logger: KubeLog.logger())
        let recorder = EventRecorder(client: client, host: "node-a")
        let model = SkipTestModel()
        let updates = client.sourceUpdates(LiveModel.fastWatch, events: recorder, logger: KubeLog.logger())
        let consumer = Task {
            for await update in updates {
                model.seen.withLock { model in
                    model.state.apply(update.events)
                    model.synced = model.synced || update.synced
                }
            }
        }
        func has(_ names: Set<String>) async -> Bool {
            let deadline = ContinuousClock.now + .seconds(10)
            while ContinuousClock.now < deadline {
                let done = model.seen.withLock { model in
                    model.synced && names.isSubset(of: Set(model.state.snapshot.services.keys.map(\.description)))
                }
                if done { return true }
                try? await Task.sleep(for: .milliseconds(50))
            }
            return false
        }
        #expect(await has(["kt-skip/good"]), "the list goes on past the bad Service")

        // In a watch: the bad object, then a good one behind it on the same stream.
        try await harness.putRawService(namespace: "kt-skip", name: "bad-watched", uid: UUID().uuidString)
        try await harness.kubectl(["-n", "kt-skip", "create", "service", "clusterip", "after", "--tcp=80"])
        #expect(await has(["kt-skip/good", "kt-skip/after"]), "the watch goes on past the bad Service")
        let names = model.seen.withLock { $0.state.snapshot.services.keys.map(\.description) }
        #expect(!names.contains { $0.hasPrefix("kt-skip/bad") })

        var events = ""
        let deadline = ContinuousClock.now + .seconds(10)
        while ContinuousClock.now < deadline {
            events = try await harness.kubectl([
                "-n", "kt-skip", "get", "events", "--field-selector", "reason=InvalidObject", "-o",
                #"jsonpath={range .items[*]}{.involvedObject.kind}/{.involvedObject.name} {.type} {.source.component}/{.source.host}: {.message}{"\n"}{end}"#,
            ])
            if events.contains("bad-listed"), events.contains("bad-watched") { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        KubeLog.record(events)
        let expected = "Warning kproxy/node-a: kproxy ignores this Service until it is fixed: spec.ports[0].port: "
            + "70000 is not a valid port"
        #expect(events.contains("Service/bad-listed \(expected)"), "\(events)")
        #expect(events.contains("Service/bad-watched \(expected)"), "\(events)")
        consumer.cancel()
        await client.shutdown()
        await harness.deleteRawServices(namespace: "kt-skip")
    }
}

/// What the daemon's source stream delivered to the skipped-Service test.
final class SkipTestModel: Sendable {
    let seen = Mutex((state: ClusterState(nodeName: "node-a"), synced: false))
}

extension KubeHarness {
    /// Stores a Service with port 70000 straight into etcd, bypassing the API server's validation; the server
    /// reads JSON from etcd as well as protobuf.
    func putRawService(namespace: String, name: String, uid: String) async throws(HarnessError) {
        let object = """
            {"kind":"Service","apiVersion":"v1","metadata":{"name":"\(name)","namespace":"\(namespace)",\
            "uid":"\(uid)","creationTimestamp":"2026-01-01T00:00:00Z"},\
            "spec":{"type":"ClusterIP","clusterIP":"None","ports":[{"protocol":"TCP","port":70000,"targetPort":80}]}}
            """
        let result = await KubeHarness.run(
            [
                "/usr/bin/etcdctl", "--endpoints=\(env["ETCD_ENDPOINT"] ?? "")", "put",
                "/registry/services/specs/\(namespace)/\(name)",
            ],
            env: ["ETCDCTL_API": "3"], stdin: object)
        guard result.status == 0 else { throw HarnessError("etcdctl put: \(result.stderr)") }
    }

    /// Removes what ``putRawService(namespace:name:uid:)`` stored, so later tests list only valid Services.
    func deleteRawServices(namespace: String) async {
        _ = await KubeHarness.run(
            [
                "/usr/bin/etcdctl", "--endpoints=\(env["ETCD_ENDPOINT"] ?? "")", "del", "--prefix",
                "/registry/services/specs/\(namespace)/bad-",
            ], env: ["ETCDCTL_API": "3"])
    }
}
