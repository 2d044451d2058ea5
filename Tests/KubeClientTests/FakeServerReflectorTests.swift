import ClusterModel
import Foundation
import KubeModel
import Logging
import NIOCore
import NIOHTTP1
import Synchronization
import Testing

@testable import KubeClient

/// What a test saw on ``KubeClient/clusterUpdates(_:)``.
struct Observed: Sendable {
    var state = ClusterState(nodeName: "node-a")
    var synced = false
    var syncedCount = 0
    var problems: [KubeClientError] = []
    var skipped: [SkippedObject] = []

    var serviceNames: Set<String> { Set(state.snapshot.services.keys.map(\.description)) }
}

final class ObservedBox: Sendable {
    let state = Mutex(Observed())
}

enum ObserveTimeout: Error { case timedOut(String) }

/// Runs the updates until `condition` holds, or fails after `timeout`.
func observe(
    _ client: KubeClient, _ watch: ClusterWatch, timeout: Duration = .seconds(15),
    until condition: @escaping @Sendable (Observed) -> Bool
) async throws -> Observed {
    let latest = ObservedBox()
    let met = try await withThrowingTaskGroup(of: Bool.self) { group in
        group.addTask {
            for await update in client.clusterUpdates(watch) {
                let done = latest.state.withLock { seen in
                    switch update {
                    case .events(let events): seen.state.apply(events)
                    case .synced:
                        seen.synced = true
                        seen.syncedCount += 1
                    case .problem(let error, _): seen.problems.append(error)
                    case .skipped(let object): seen.skipped.append(object)
                    }
                    return condition(seen)
                }
                if done { return true }
            }
            return false
        }
        group.addTask {
            try await Task.sleep(for: timeout)
            return false
        }
        let first = try await group.next() ?? false
        group.cancelAll()
        return first
    }
    let seen = latest.state.withLock { $0 }
    let logged = CapturingLogHandler.lines.withLock { $0 }
    #expect(!logged.isEmpty)
    #expect(!logged.contains { $0.contains(testToken) }, "a log line contains the token")
    if !met {
        throw ObserveTimeout.timedOut(
            "condition not met; services=\(seen.serviceNames.sorted()) problems=\(seen.problems.map(\.description))")
    }
    return seen
}

func serviceJSON(_ name: String, version: Int, padding: Int = 0) -> String {
    let pad = padding > 0 ? #","annotations":{"pad":"\#(String(repeating: "x", count: padding))"}"# : ""
    return
        #"{"metadata":{"name":"\#(name)","namespace":"demo","resourceVersion":"\#(version)"\#(pad)},"spec":{"clusterIP":"10.0.0.\#(version % 250 + 1)","ports":[{"port":80}]}}"#
}

func listJSON(version: Int, items: [String]) -> String {
    #"{"kind":"List","metadata":{"resourceVersion":"\#(version)"},"items":[\#(items.joined(separator: ","))]}"#
}

func event(_ type: String, _ object: String) -> String { #"{"type":"\#(type)","object":\#(object)}"# + "\n" }

/// Lists and watches of everything but Services: empty, quiet watches that end after a second.
func quietOthers(_ request: RecordedRequest) -> FakeReply {
    if request.isWatch { return .respond(.ok, [.wait(.seconds(1))], .finish) }
    return .respond(.ok, [.send(listJSON(version: 1, items: []))], .finish)
}

let fastWatch = ClusterWatch(
    nodeName: "node-a", endpointSliceVersion: "v1",
    reflector: ReflectorOptions(
        backoff: Backoff(initial: .milliseconds(50), maximum: .milliseconds(300)), watchTimeoutSeconds: 5))

let testToken = "fake-secret-token-0123456789"

/// Runs `body` with a client of `server`, then shuts both down whether or not `body` threw.
func withClient<T>(
    _ server: FakeAPIServer, pki: TestPKI, caFile: String? = nil,
    transport: TransportOptions = TransportOptions(
        connectTimeout: .seconds(2), responseTimeout: .seconds(2), idleTimeout: .seconds(3)),
    _ body: (KubeClient) async throws -> T
) async throws -> T {
    let ca = caFile ?? pki.caFile
    let config = ConnectionConfig(
        host: "127.0.0.1", port: server.port,
        certificateAuthority: CertificateAuthority(
            pem: Array(try Data(contentsOf: URL(fileURLWithPath: ca))), source: ca),
        token: .inline(BearerToken(testToken), source: "test"), origin: "test")
    let client = try KubeClient(config: config, transport: transport, logger: CapturingLogHandler.logger())
    do {
        let result = try await body(client)
        await client.shutdown()
        await server.stop()
        return result
    } catch {
        await client.shutdown()
        await server.stop()
        throw error
    }
}

@Suite(.serialized, .enabled(if: TestPKI.shared != nil, "openssl is needed to make test certificates"))
struct FakeServerReflectorTests {
    let pki = TestPKI.shared!

    @Test func garbageInsideAWatchReconnectsFromTheLastGoodVersion() async throws {
        let server = try await FakeAPIServer(pki: pki) { request, _ in
            guard request.path == "/api/v1/services" else { return quietOthers(request) }
            if !request.isWatch {
                return .respond(.ok, [.send(listJSON(version: 10, items: [serviceJSON("a", version: 10)]))], .finish)
            }
            if request.query["resourceVersion"] == "10" {
                return .respond(
                    .ok, [.send(event("ADDED", serviceJSON("b", version: 11))), .send("}}garbage{{\n")], .stayOpen)
            }
            return .respond(.ok, [.send(event("ADDED", serviceJSON("c", version: 12))), .wait(.seconds(5))], .finish)
        }
        try await withClient(server, pki: pki) { client in
            let seen = try await observe(client, fastWatch) { $0.serviceNames == ["demo/a", "demo/b", "demo/c"] }
            #expect(seen.synced)
            #expect(seen.problems.contains { if case .malformedResponse = $0 { true } else { false } })
            let watches = server.requests.filter { $0.path == "/api/v1/services" && $0.isWatch }
            #expect(watches.map { $0.query["resourceVersion"] }.prefix(2) == ["10", "11"])
            #expect(
                watches.allSatisfy { $0.query["allowWatchBookmarks"] == "true" && $0.query["timeoutSeconds"] != nil })
        }
    }

    @Test func aStreamCutMidObjectResumesWithoutLosingEvents() async throws {
        let full = event("ADDED", serviceJSON("b", version: 21))
        let watches = Mutex(0)
        let server = try await FakeAPIServer(pki: pki) { request, _ in
            guard request.path == "/api/v1/services" else { return quietOthers(request) }
            if !request.isWatch { return .respond(.ok, [.send(listJSON(version: 20, items: []))], .finish) }
            if watches.withLock({
                $0 += 1
                return $0
            }) == 1 {
                return .respond(.ok, [.send(String(full.prefix(40)))], .close)
            }
            return .respond(.ok, [.send(full), .wait(.seconds(5))], .finish)
        }
        try await withClient(server, pki: pki) { client in
            let seen = try await observe(client, fastWatch) { $0.serviceNames == ["demo/b"] }
            #expect(!seen.problems.isEmpty)
            let watches = server.requests.filter { $0.path == "/api/v1/services" && $0.isWatch }
            #expect(watches.prefix(2).map { $0.query["resourceVersion"] } == ["20", "20"])
        }
    }

    @Test func anErrorEvent410RelistsAndDropsWhatIsGone() async throws {
        let lists = Mutex(0)
        let server = try await FakeAPIServer(pki: pki) { request, _ in
            guard request.path == "/api/v1/services" else { return quietOthers(request) }
            if !request.isWatch {
                let n = lists.withLock {
                    $0 += 1
                    return $0
                }
                let items = n == 1 ? [serviceJSON("old", version: 30)] : [serviceJSON("new", version: 40)]
                return .respond(.ok, [.send(listJSON(version: n == 1 ? 30 : 40, items: items))], .finish)
            }
            if request.query["resourceVersion"] == "30" {
                let status =
                    #"{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 30 (35)","reason":"Expired","code":410}"#
                return .respond(.ok, [.send(event("ERROR", status))], .stayOpen)
            }
            return .respond(.ok, [.wait(.seconds(5))], .finish)
        }
        try await withClient(server, pki: pki) { client in
            let seen = try await observe(client, fastWatch) { $0.serviceNames == ["demo/new"] }
            #expect(seen.syncedCount == 1)
            #expect(lists.withLock { $0 } == 2)
            #expect(!seen.problems.contains { $0.isExpired }, "a 410 is routine, not a problem to print")
        }
    }

    @Test func listsInPagesAndRestartsWhenAContinueTokenExpires() async throws {
        let secondPages = Mutex(0)
        let server = try await FakeAPIServer(pki: pki) { request, _ in
            guard request.path == "/api/v1/services" else { return quietOthers(request) }
            if request.isWatch {
                // Only a watch from the paged list's version sees p4.
                guard request.query["resourceVersion"] == "60" else {
                    return .respond(.ok, [.wait(.seconds(5))], .finish)
                }
                return .respond(
                    .ok, [.send(event("ADDED", serviceJSON("p4", version: 61))), .wait(.seconds(5))], .finish)
            }
            guard request.query["limit"] == "2" else { return .respond(.badRequest, [], .finish) }
            guard let token = request.query["continue"] else {
                let page =
                    #"{"metadata":{"resourceVersion":"60","continue":"tok1"},"items":["#
                    + serviceJSON("p1", version: 58) + "," + serviceJSON("p2", version: 59) + "]}"
                return .respond(.ok, [.send(page)], .finish)
            }
            if token == "tok1",
                secondPages.withLock({
                    $0 += 1
                    return $0
                }) == 1
            {
                let expired =
                    #"{"kind":"Status","message":"The provided continue parameter is too old","reason":"Expired","code":410}"#
                return .respond(.gone, [.send(expired)], .finish)
            }
            return .respond(.ok, [.send(listJSON(version: 60, items: [serviceJSON("p3", version: 60)]))], .finish)
        }
        var watch = fastWatch
        watch.reflector.listPageSize = 2
        try await withClient(server, pki: pki) { client in
            let seen = try await observe(client, watch) { $0.serviceNames.contains("demo/p4") }
            #expect(seen.serviceNames == ["demo/p1", "demo/p2", "demo/p3", "demo/p4"])
            #expect(seen.problems.contains { $0.isExpired })
            let lists = server.requests.filter { $0.path == "/api/v1/services" && !$0.isWatch }
            #expect(lists.map { $0.query["continue"] ?? "-" } == ["-", "tok1", "-", "tok1"])

        }
    }

    @Test(arguments: [(["v1", "v1beta1"], "v1"), (["v1beta1"], "v1beta1")])
    func discoveryPicksTheEndpointSliceVersionOnce(served: [String], expected: String) async throws {
        let versions = served.map { #"{"groupVersion":"discovery.k8s.io/\#($0)","version":"\#($0)"}"# }
        let group = #"{"kind":"APIGroup","name":"discovery.k8s.io","versions":[\#(versions.joined(separator: ","))]}"#
        let server = try await FakeAPIServer(pki: pki) { request, _ in
            if request.path == "/apis/discovery.k8s.io" { return .respond(.ok, [.send(group)], .finish) }
            return quietOthers(request)
        }
        var watch = fastWatch
        watch.endpointSliceVersion = nil
        try await withClient(server, pki: pki) { client in
            #expect(try await client.endpointSliceVersion() == expected)
            _ = try await observe(client, watch) { $0.synced }
            let paths = Set(server.requests.map(\.path))
            #expect(paths.contains("/apis/discovery.k8s.io/\(expected)/endpointslices"))
            #expect(server.requests.filter { $0.path == "/apis/discovery.k8s.io" }.count == 2, "asked once per start")
        }
    }

    @Test func aFiftyMegabyteList() async throws {
        let items = (0..<10_000).map { serviceJSON("s\($0)", version: $0 + 1, padding: 5_000) }
        var body = ByteBuffer(string: listJSON(version: 10_001, items: items))
        #expect(body.readableBytes > 50_000_000)
        var chunks: [FakeReply.Step] = []
        while body.readableBytes > 0 {
            chunks.append(.sendBytes(body.readSlice(length: min(1 << 20, body.readableBytes))!))
        }
        let steps = chunks
        let server = try await FakeAPIServer(pki: pki) { request, _ in
            guard request.path == "/api/v1/services" else { return quietOthers(request) }
            if !request.isWatch { return .respond(.ok, steps, .finish) }
            return .respond(.ok, [.wait(.seconds(5))], .finish)
        }
        try await withClient(server, pki: pki) { client in
            let start = ContinuousClock.now
            let seen = try await observe(client, fastWatch, timeout: .seconds(120)) { $0.synced }
            #expect(seen.state.snapshot.services.count == 10_000)
            print("50 MB list: synced in \(ContinuousClock.now - start)")
        }
    }

    @Test func aServerThatNeverAnswersIsReportedAndRetried() async throws {
        let server = try await FakeAPIServer(pki: pki) { _, _ in .hang }
        try await withClient(
            server, pki: pki,
            transport: TransportOptions(
                connectTimeout: .seconds(1), responseTimeout: .seconds(1), idleTimeout: .seconds(2))
        ) { client in
            let seen = try await observe(client, fastWatch) { $0.problems.count >= 4 }
            #expect(
                seen.problems.allSatisfy { $0 == .noResponse(server: "https://127.0.0.1:\(server.port)", seconds: 1) })
            #expect(!seen.synced)
            #expect(server.requests.count >= 4)
        }
    }

    @Test func aSilentWatchHitsTheIdleTimeoutAndReconnects() async throws {
        let server = try await FakeAPIServer(pki: pki) { request, _ in
            guard request.path == "/api/v1/services" else { return quietOthers(request) }
            if !request.isWatch { return .respond(.ok, [.send(listJSON(version: 50, items: []))], .finish) }
            return .respond(.ok, [], .stayOpen)
        }
        try await withClient(
            server, pki: pki,
            transport: TransportOptions(
                connectTimeout: .seconds(1), responseTimeout: .seconds(1), idleTimeout: .seconds(1))
        ) { client in
            let seen = try await observe(client, fastWatch) { seen in
                seen.problems.contains { if case .idleTimeout = $0 { true } else { false } }
            }
            #expect(seen.synced)
        }
    }

    @Test func statusErrorsAreWordedForOperators() async throws {
        let forbidden = try String(
            contentsOf: Fixture.directory.appendingPathComponent("status-403-forbidden.json"), encoding: .utf8)
        let server = try await FakeAPIServer(pki: pki) { request, _ in
            if request.path == "/api/v1/nodes" { return .respond(.forbidden, [.send(forbidden)], .finish) }
            if request.path == "/api/v1/services" {
                return .respond(
                    .unauthorized,
                    [.send(#"{"kind":"Status","message":"Unauthorized","reason":"Unauthorized","code":401}"#)], .finish)
            }
            return quietOthers(request)
        }
        try await withClient(server, pki: pki) { client in
            let seen = try await observe(client, fastWatch) { seen in
                seen.problems.contains { if case .forbidden = $0 { true } else { false } }
                    && seen.problems.contains { if case .unauthorized = $0 { true } else { false } }
            }
            let texts = seen.problems.map(\.description)
            #expect(texts.contains("the API server rejected the token from test: Unauthorized"))
            #expect(
                texts.contains { $0.contains("cannot list resource \"secrets\"") && $0.contains("deploy/rbac.yaml") })
            #expect(server.requests.allSatisfy { $0.authorization == "Bearer \(testToken)" })
        }
    }

    @Test func theWrongCAFailsTheHandshakeBeforeAnyRequest() async throws {
        let server = try await FakeAPIServer(pki: pki) { request, _ in quietOthers(request) }
        let transport = TransportOptions(connectTimeout: .seconds(1), responseTimeout: .seconds(2))
        try await withClient(server, pki: pki, caFile: pki.otherCAFile, transport: transport) { client in
            let seen = try await observe(client, fastWatch) { !$0.problems.isEmpty }
            guard case .tls(let serverURL, let caSource, _) = seen.problems.first else {
                Issue.record("expected a TLS error, got \(seen.problems)")
                return
            }
            #expect(serverURL == "https://127.0.0.1:\(server.port)")
            #expect(caSource == pki.otherCAFile)
            #expect(seen.problems.first?.description.contains(pki.otherCAFile) == true)
            #expect(server.requests.isEmpty, "no request (and so no token) may reach an unverified server")
        }
    }
}
