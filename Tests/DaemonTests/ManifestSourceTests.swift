import ClusterModel
import Daemon
import Foundation
import Logging
import Testing

@Suite("Manifest source")
struct ManifestSourceTests {
    static func service(_ name: String, ip: String) -> String {
        "apiVersion: v1\nkind: Service\nmetadata: {name: \(name), namespace: d}\nspec: {clusterIP: \(ip), ports: [{port: 80}]}\n"
    }

    func serviceNames(_ events: [ClusterEvent]) -> [String] {
        events.flatMap { event -> [String] in
            guard case .replaceAll(.service, let objects) = event else { return [] }
            return objects.map(\.key.name)
        }.sorted()
    }

    @Test func reloadsOnChangeAndKeepsTheOldStateWhenAFileBreaks() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("kproxy-src-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let file = dir.appendingPathComponent("svc.yaml")
        try Self.service("a", ip: "10.96.0.1").write(to: file, atomically: true, encoding: .utf8)

        let source = ManifestSource(directory: dir.path, pollInterval: .milliseconds(20), logger: Logger(label: "test"))
        var iterator = source.events().makeAsyncIterator()
        #expect(serviceNames(try #require(await iterator.next())) == ["a"])

        // A broken edit is not applied; the next good edit is.
        try "kind: Service\nmetadata: [\n".write(to: file, atomically: true, encoding: .utf8)
        try await Task.sleep(for: .milliseconds(100))
        try (Self.service("a", ip: "10.96.0.1") + "---\n" + Self.service("b", ip: "10.96.0.2"))
            .write(to: file, atomically: true, encoding: .utf8)
        #expect(serviceNames(try #require(await iterator.next())) == ["a", "b"])
    }
}
