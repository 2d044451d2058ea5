import ClusterModel
import Foundation
import KubeModel
import NIOCore
import Testing

@testable import KubeClient

/// Real responses recorded from kube-apiserver 1.20.2 (shared with KubeModelTests).
enum Fixture {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("KubeModelTests/Fixtures")

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: directory.appendingPathComponent(name))
    }
}

@Suite struct WatchStreamSplitterTests {
    /// Every way of cutting the recorded stream into two chunks yields the same events.
    @Test func splitsTheRecordedStreamAtEveryByte() throws {
        let stream = try Fixture.data("services-watch-stream.jsonl")
        let expected = stream.split(separator: UInt8(ascii: "\n")).count
        for cut in stride(from: 0, through: stream.count, by: 97) {
            var splitter = WatchStreamSplitter()
            var events = try splitter.append(ByteBuffer(bytes: stream.prefix(cut)))
            events += try splitter.append(ByteBuffer(bytes: stream.dropFirst(cut)))
            try splitter.finish()
            #expect(events.count == expected)
        }
        var splitter = WatchStreamSplitter()
        var count = 0
        for byte in stream { count += try splitter.append(ByteBuffer(bytes: [byte])).count }
        #expect(count == expected)
    }

    @Test func aCutStreamIsAnError() throws {
        var splitter = WatchStreamSplitter()
        #expect(try splitter.append(ByteBuffer(string: "{\"type\":\"ADDED\",\"obj")).isEmpty)
        #expect(throws: WatchStreamSplitter.Failure.truncated(bytes: 20)) { try splitter.finish() }
    }

    @Test func blankLinesAreSkippedAndHugeEventsRejected() throws {
        var splitter = WatchStreamSplitter(maximumEventSize: 16)
        #expect(try splitter.append(ByteBuffer(string: "\n \r\n{}\n")).count == 1)
        try splitter.finish()
        #expect(throws: WatchStreamSplitter.Failure.eventTooLarge(limit: 16)) {
            try splitter.append(ByteBuffer(string: String(repeating: "x", count: 17)))
        }
    }
}

@Suite struct WatchedResourceDecodingTests {
    @Test func decodesTheRecordedWatchStream() throws {
        let resource = WatchedResource.services()
        let lines = try Fixture.data("services-watch-stream.jsonl").split(separator: UInt8(ascii: "\n"))
        var upserts = 0
        var deletes: [ObjectKey] = []
        var bookmarks: [String] = []
        for line in lines {
            switch try resource.decodeEvent(Data(line)) {
            case .upsert: upserts += 1
            case .delete(let key, _): deletes.append(key)
            case .bookmark(let version): bookmarks.append(version)
            case .error, .invalid: Issue.record("unexpected event")
            }
        }
        #expect(upserts == 2)
        #expect(deletes == [ObjectKey(namespace: "demo", name: "search")])
        #expect(bookmarks.count == 1)
    }

    @Test func decodesListsAndKeepsGoodItemsNextToBadOnes() throws {
        let list = try WatchedResource.services().decodeList(Fixture.data("services-list.json"))
        #expect(list.resourceVersion?.isEmpty == false)
        #expect(list.objects.contains { $0.key == ObjectKey(namespace: "default", name: "kubernetes") })
        #expect(list.skipped.isEmpty)
        let slices = try WatchedResource.endpointSlices(version: "v1beta1")
            .decodeList(Fixture.data("endpointslices-v1beta1-list.json"))
        #expect(!slices.objects.isEmpty)

        let mixed = """
            {"kind":"ServiceList","metadata":{"resourceVersion":"42"},"items":[
             {"metadata":{"name":"bad","namespace":"demo","uid":"u-1"},"spec":{"ports":[{"port":70000}]}},
             {"metadata":{"name":"good","namespace":"demo"},"spec":{"clusterIP":"10.0.0.1","ports":[{"port":80}]}}]}
            """
        let decoded = try WatchedResource.services().decodeList(Data(mixed.utf8))
        #expect(decoded.resourceVersion == "42")
        #expect(decoded.objects.map(\.key) == [ObjectKey(namespace: "demo", name: "good")])
        #expect(decoded.skipped.count == 1)
        let skipped = try #require(decoded.skipped.first)
        #expect(skipped.problem.object == "demo/bad")
        #expect(skipped.detail == "spec.ports[0].port: 70000 is not a valid port")
        #expect(
            skipped.subject
                == EventSubject(kind: "Service", apiVersion: "v1", namespace: "demo", name: "bad", uid: "u-1"))
    }

    @Test func errorEventsCarryTheStatus() throws {
        let line =
            #"{"type":"ERROR","object":{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":"too old resource version: 5 (237)","reason":"Expired","code":410}}"#
        guard case .error(let status) = try WatchedResource.services().decodeEvent(Data(line.utf8)) else {
            Issue.record("expected an ERROR event")
            return
        }
        #expect(status.isExpired)
    }

    @Test func aBrokenObjectIsSkippedButStillDeletable() throws {
        let resource = WatchedResource.services()
        let modified =
            #"{"type":"MODIFIED","object":{"metadata":{"name":"x","namespace":"n","resourceVersion":"9"},"spec":{"ports":[{"port":-1}]}}}"#
        guard case .invalid(let skipped, let version) = try resource.decodeEvent(Data(modified.utf8)) else {
            Issue.record("expected an invalid event")
            return
        }
        #expect(version == "9")
        #expect(skipped.problem.object == "n/x")
        #expect(skipped.key == ObjectKey(namespace: "n", name: "x"))
        #expect(skipped.uid == nil)
        let deleted = modified.replacingOccurrences(of: "MODIFIED", with: "DELETED")
        guard case .delete(let key, "9") = try resource.decodeEvent(Data(deleted.utf8)) else {
            Issue.record("expected a delete")
            return
        }
        #expect(key == ObjectKey(namespace: "n", name: "x"))
        #expect(throws: (any Error).self) { try resource.decodeEvent(Data("garbage".utf8)) }
    }
}

@Suite struct TokenSourceTests {
    @Test func rereadsAfterTheIntervalAndAfterInvalidate() throws {
        let dir = TempDir()
        let path = dir.write("token", "first\n")
        let source = TokenSource(.file(path), refreshInterval: .seconds(60))
        let t0 = ContinuousClock.now
        #expect(try source.current(now: t0).secret == "first")
        dir.write("token", "second")
        #expect(try source.current(now: t0 + .seconds(30)).secret == "first", "cached within the minute")
        #expect(try source.current(now: t0 + .seconds(61)).secret == "second", "re-read after a minute")
        dir.write("token", "third")
        source.invalidate()
        #expect(try source.current(now: t0 + .seconds(62)).secret == "third", "re-read at once after a 401")
    }

    @Test func badTokenFilesNameTheFileNotTheContent() throws {
        let dir = TempDir()
        let path = dir.write("token", "  \n")
        let error = #expect(throws: TokenError.self) { try TokenSource(.file(path)).current() }
        #expect(error?.description == "the ServiceAccount token file \(path) is empty")
        dir.write("token", "two words-secret")
        let twoWords = #expect(throws: TokenError.self) { try TokenSource(.file(path)).current() }
        #expect(twoWords?.description.contains("secret") == false)
        #expect(throws: TokenError.self) { try TokenSource(.file(dir.path + "/missing")).current() }
    }

    @Test func aVanishedFileKeepsTheLastToken() throws {
        let dir = TempDir()
        let path = dir.write("token", "kept")
        let source = TokenSource(.file(path), refreshInterval: .zero)
        #expect(try source.current().secret == "kept")
        try FileManager.default.removeItem(atPath: path)
        #expect(try source.current().secret == "kept")
    }
}
