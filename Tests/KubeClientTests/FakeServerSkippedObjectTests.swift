import ClusterModel
import Foundation
import KubeModel
import NIOHTTP1
import Synchronization
import Testing

@testable import KubeClient

/// One Service kproxy cannot read must not stop the others, in a list or a watch, and is reported as
/// ``ClusterUpdate/skipped(_:)`` so the daemon can post an Event about it.
@Suite(.serialized, .enabled(if: TestPKI.shared != nil, "openssl is needed to make test certificates"))
struct FakeServerSkippedObjectTests {
    let pki = TestPKI.shared!

    static let badPortList =
        #"{"metadata":{"name":"bad","namespace":"demo","uid":"uid-bad","resourceVersion":"9"},"spec":{"clusterIP":"10.0.0.9","ports":[{"port":80},{"port":81},{"port":70000}]}}"#
    static let badIPWatch =
        #"{"metadata":{"name":"a","namespace":"demo","uid":"uid-a","resourceVersion":"12"},"spec":{"clusterIP":"10.0.0.999","ports":[{"port":80}]}}"#

    @Test func anInvalidServiceInAListAndAWatchIsSkippedAndTheOthersSync() async throws {
        let server = try await FakeAPIServer(pki: pki) { request, _ in
            guard request.path == "/api/v1/services" else { return quietOthers(request) }
            if !request.isWatch {
                let bad = FakeServerSkippedObjectTests.badPortList
                let items = [serviceJSON("a", version: 8), bad, serviceJSON("c", version: 10)]
                return .respond(.ok, [.send(listJSON(version: 10, items: items))], .finish)
            }
            guard request.query["resourceVersion"] == "10" else { return .respond(.ok, [.wait(.seconds(5))], .finish) }
            return .respond(
                .ok,
                [
                    .send(event("ADDED", serviceJSON("d", version: 11))),
                    .send(event("MODIFIED", FakeServerSkippedObjectTests.badIPWatch)),
                    .send(event("ADDED", serviceJSON("e", version: 13))),
                    .wait(.seconds(5)),
                ], .finish)
        }
        try await withClient(server, pki: pki) { client in
            // The other resources list concurrently, so "synced" may trail the Services by a moment.
            let seen = try await observe(client, fastWatch) {
                $0.synced && $0.serviceNames == ["demo/c", "demo/d", "demo/e"]
            }
            #expect(seen.synced)
            #expect(seen.problems.isEmpty, "a skipped object is not a request failure: \(seen.problems)")
            #expect(seen.skipped.map(\.key?.description) == ["demo/bad", "demo/a"])
            let fromList = try #require(seen.skipped.first)
            #expect(fromList.detail == "spec.ports[2].port: 70000 is not a valid port")
            #expect(fromList.description == "Service demo/bad: spec.ports[2].port: 70000 is not a valid port")
            #expect(
                fromList.subject
                    == EventSubject(kind: "Service", apiVersion: "v1", namespace: "demo", name: "bad", uid: "uid-bad"))
            #expect(seen.skipped.last?.detail == "spec.clusterIP: \"10.0.0.999\" is not a valid IP address")
            #expect(seen.skipped.last?.uid == "uid-a")
            let watches = server.requests.filter { $0.path == "/api/v1/services" && $0.isWatch }
            #expect(watches.count == 1, "an invalid object does not break the watch")
        }
    }

    @Test func theRecorderPostsAWarningEventAboutASkippedObjectOnce() async throws {
        let server = try await FakeAPIServer(pki: pki) { request, _ in
            guard request.method == .POST else { return quietOthers(request) }
            return .respond(.created, [.send(#"{"kind":"Event"}"#)], .finish)
        }
        let skipped = SkippedObject(
            kind: .service, apiVersion: "v1", key: ObjectKey(namespace: "demo", name: "bad"), uid: "uid-bad",
            problem: ObjectDecodingError(
                object: "demo/bad", path: "spec.ports[2].port", message: "70000 is not a valid port"))
        try await withClient(server, pki: pki) { client in
            let recorder = EventRecorder(client: client, host: "node-a")
            #expect(await recorder.recordSkipped(skipped))
            #expect(!(await recorder.recordSkipped(skipped)), "the same object and reason is held back for 5 minutes")
            var nameless = skipped
            nameless.key = nil
            #expect(!(await recorder.recordSkipped(nameless)), "an Event needs an object name")

            let posts = server.requests.filter { $0.method == .POST }
            #expect(posts.map(\.path) == ["/api/v1/namespaces/demo/events"])
            let body = try #require(posts.first.map { Data($0.body.utf8) })
            let event = try #require(try JSONSerialization.jsonObject(with: body) as? [String: Any])
            #expect(event["type"] as? String == "Warning")
            #expect(event["reason"] as? String == "InvalidObject")
            #expect(
                event["message"] as? String
                    == "kproxy ignores this Service until it is fixed: spec.ports[2].port: 70000 is not a valid port")
            #expect(
                event["involvedObject"] as? [String: String]
                    == ["kind": "Service", "apiVersion": "v1", "namespace": "demo", "name": "bad", "uid": "uid-bad"])
            #expect(event["source"] as? [String: String] == ["component": "kproxy", "host": "node-a"])
        }
    }
}
