import ClusterModel
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Processes, tools and fixtures the DNS integration tests share.
enum DNSTestSupport {
    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()
    static let demoCluster = repository.appendingPathComponent("deploy/examples/demo-cluster").path

    static var isRoot: Bool { geteuid() == 0 }

    /// The absolute path of `tool` on PATH (and the sbin directories), or nil.
    static func which(_ tool: String) -> String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":/usr/sbin:/sbin:/usr/bin:/bin"
        return path.split(separator: ":").map { "\($0)/\(tool)" }.first {
            FileManager.default.isExecutableFile(atPath: $0)
        }
    }

    /// The `kproxy` binary built next to the test bundle (`swift build` builds both).
    static var kproxyBinary: String? {
        let bundle = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates =
            [bundle.appendingPathComponent("kproxy").path]
            + ["debug", "release"].map { repository.appendingPathComponent(".build/\($0)/kproxy").path }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a command to completion, its output through files.
    @discardableResult
    static func run(_ arguments: [String]) throws -> Output {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: directory) }
        let out = directory.appendingPathComponent("stdout").path
        let err = directory.appendingPathComponent("stderr").path
        let child = try Subprocess(arguments, stdout: out, stderr: err)
        let status = child.wait()
        return Output(
            status: status, stdout: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: err, encoding: .utf8)) ?? "")
    }

    /// A temporary directory removed when the test ends.
    static func temporaryDirectory() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("kpt-dns-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    /// The demo cluster plus Services the demo lacks: a headless Service with 100 endpoints (too big for
    /// 512 bytes), one whose endpoints have no hostname, and an ExternalName pointing into the zone.
    static func richManifests() throws -> URL {
        let directory = try temporaryDirectory()
        for file in try FileManager.default.contentsOfDirectory(atPath: demoCluster) {
            try FileManager.default.copyItem(
                atPath: "\(demoCluster)/\(file)", toPath: directory.appendingPathComponent(file).path)
        }
        let endpoints = (1...100).map { index in
            "- addresses: [\"10.244.3.\(index)\"]\n  conditions: {ready: true}\n  hostname: big-\(index)"
        }
        let rich = """
            apiVersion: v1
            kind: Service
            metadata: {name: big, namespace: demo}
            spec:
              clusterIP: None
              ports: [{name: http, port: 80}]
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: big-1
              namespace: demo
              labels: {kubernetes.io/service-name: big, service.kubernetes.io/headless: ""}
            addressType: IPv4
            ports: [{name: http, port: 80, protocol: TCP}]
            endpoints:
            \(endpoints.joined(separator: "\n"))
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: nohost, namespace: demo}
            spec:
              clusterIP: None
            ---
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata:
              name: nohost-1
              namespace: demo
              labels: {kubernetes.io/service-name: nohost}
            addressType: IPv4
            ports: []
            endpoints:
            - addresses: ["10.244.1.77"]
              conditions: {ready: true}
            ---
            apiVersion: v1
            kind: Service
            metadata: {name: alias, namespace: demo}
            spec:
              type: ExternalName
              externalName: web.demo.svc.cluster.local

            """
        try rich.write(to: directory.appendingPathComponent("90-rich.yaml"), atomically: true, encoding: .utf8)
        return directory
    }

    static func snapshot(of directory: URL, node: String = "node-a") throws -> ClusterSnapshot {
        let load = try ManifestLoader.load(directory: directory.path)
        guard load.errors.isEmpty else { throw FixtureError(detail: load.errors.map(\.description).joined()) }
        var state = ClusterState(nodeName: node)
        state.apply(load.events)
        return state.snapshot
    }

    struct FixtureError: Error, CustomStringConvertible {
        var detail: String
        var description: String { "fixture manifests do not load: \(detail)" }
    }
}

/// One `dig` exchange, parsed from its default output.
struct Dig {
    var status: String
    var flags: Set<String>
    /// Record lines of each section, whitespace collapsed: `web.demo.svc.cluster.local. 5 IN A 10.96.100.10`.
    var answers: [String]
    var authority: [String]
    var additional: [String]

    static func ask(port: Int, _ arguments: [String], server: String = "127.0.0.1") throws -> Dig {
        guard let dig = DNSTestSupport.which("dig") else { throw DigMissing() }
        let output = try DNSTestSupport.run([dig, "@\(server)", "-p", "\(port)", "+time=5", "+tries=2"] + arguments)
        return Dig(parsing: output.stdout)
    }

    struct DigMissing: Error {}

    init(parsing text: String) {
        status = ""
        flags = []
        answers = []
        authority = []
        additional = []
        var section = ""
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if let range = line.range(of: "status: ") {
                status = String(line[range.upperBound...].prefix { $0 != "," })
            }
            if line.hasPrefix(";; flags: ") {
                let field = line.dropFirst(10).prefix { $0 != ";" }
                flags = Set(field.split(separator: " ").map(String.init))
            }
            if line.hasPrefix(";; ") && line.hasSuffix("SECTION:") {
                section = line
                continue
            }
            if line.isEmpty || line.hasPrefix(";") { continue }
            let record = line.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
            if section.contains("ANSWER") { answers.append(record) }
            if section.contains("AUTHORITY") { authority.append(record) }
            if section.contains("ADDITIONAL") { additional.append(record) }
        }
    }
}

/// A child process from ``ChildProcess``, reaped with `waitpid`.
final class Subprocess: @unchecked Sendable {
    let pid: pid_t
    private var status: Int32?

    init(_ arguments: [String], stdout: String = "/dev/null", stderr: String = "/dev/null") throws {
        do {
            pid = try ChildProcess.spawn(arguments, stdout: stdout, stderr: stderr)
        } catch {
            throw DNSTestSupport.FixtureError(detail: error.description)
        }
    }

    /// Blocks until the child exits; its exit status (128+signal when killed).
    @discardableResult
    func wait() -> Int32 {
        if let status { return status }
        let code = ChildProcess.exitStatus(of: pid)
        status = code
        return code
    }

    /// SIGTERM, then SIGKILL if it has not exited within a second; always reaps.
    func terminate() {
        guard status == nil else { return }
        kill(pid, SIGTERM)
        for _ in 0..<100 {
            var raw: Int32 = 0
            if waitpid(pid, &raw, WNOHANG) == pid {
                status = 0
                return
            }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        wait()
    }
}
