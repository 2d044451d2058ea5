import ClusterModel
import Foundation
import KubeClient
import Logging
import Synchronization
import Testing

/// The real kube-apiserver 1.20.2 + etcd of `Tests/Harness`, started once per test process.
///
/// Teardown is the harness watchdog's job: `HARNESS_OWNER_PID` is this process, so the servers are stopped
/// (by PID) when the test runner exits, whichever way it exits.
struct KubeHarness: Sendable {
    let stateDir: String
    let env: [String: String]
    /// A pod-style ServiceAccount directory for `kube-system/kproxy`, bound by deploy/rbac.yaml.
    let serviceAccountDir: String

    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path
    static let harnessDir = root + "/Tests/Harness"

    /// Where `apiserver-build.sh` caches the server (outside the repo, built once per machine).
    static let apiserverBinary =
        (ProcessInfo.processInfo.environment["KPROXY_TEST_CACHE"] ?? "/var/cache/kproxy-test")
        + "/kube-apiserver-1.20.2"

    var host: String { env["APISERVER_HOST"] ?? "127.0.0.1" }
    var port: Int { Int(env["APISERVER_PORT"] ?? "") ?? 0 }

    /// Why the suite cannot run here, or nil.
    static let unavailableReason: String? = {
        if getuid() != 0 { return "needs root (the harness installs packages and writes /var/cache/kproxy-test)" }
        if !FileManager.default.isExecutableFile(atPath: apiserverBinary) {
            return "\(apiserverBinary) is missing: run `make apiserver` (Tests/Harness/apiserver-build.sh) first"
        }
        for tool in ["/usr/bin/kubectl", "/usr/bin/etcdctl", "/usr/bin/openssl"]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            return "\(tool) is missing"
        }
        return nil
    }()

    static let shared = Startup()

    actor Startup {
        var result: Result<KubeHarness, HarnessError>?

        func get() async throws -> KubeHarness {
            if let result { return try result.get() }
            do {
                let harness = try await KubeHarness.start()
                result = .success(harness)
                return harness
            } catch {
                result = .failure(error)
                throw error
            }
        }
    }

    static func start() async throws(HarnessError) -> KubeHarness {
        let build = await run([harnessDir + "/apiserver-build.sh"])
        guard build.status == 0 else { throw HarnessError("apiserver-build.sh failed: \(build.stderr.suffix(800))") }
        removeStaleStateDirs()
        let stateDir = NSTemporaryDirectory() + "kpt-kube-api-\(getpid())"
        let up = await run([harnessDir + "/apiserver-up.sh", stateDir], env: ["HARNESS_OWNER_PID": "\(getpid())"])
        guard up.status == 0 else { throw HarnessError("apiserver-up.sh failed: \(up.stderr.suffix(800))") }
        guard let text = try? String(contentsOfFile: stateDir + "/env", encoding: .utf8) else {
            throw HarnessError("\(stateDir)/env is missing")
        }
        var env: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            env[String(line[..<eq])] = String(line[line.index(after: eq)...])
        }
        let harness = KubeHarness(stateDir: stateDir, env: env, serviceAccountDir: stateDir + "/sa-kproxy")
        // Suite item 1: kproxy's own RBAC, exactly as deploy/ ships it.
        try await harness.kubectl(["apply", "-f", root + "/deploy/rbac.yaml"])
        // Suite item 2: a bound token laid out as kubelet mounts it.
        try await harness.serviceAccount("kproxy", into: harness.serviceAccountDir)
        return harness
    }

    /// Deletes state directories (about 60 MB of etcd data each) that earlier runs left behind: those whose
    /// test process is gone (or had this process's PID) and whose servers (which the watchdog stopped) no
    /// longer run.
    static func removeStaleStateDirs() {
        let tmp = NSTemporaryDirectory()
        let prefix = "kpt-kube-api-"
        for name in (try? FileManager.default.contentsOfDirectory(atPath: tmp)) ?? [] where name.hasPrefix(prefix) {
            // A directory named after this process is stale too: a previous process had the same PID, and this
            // one has not created its own yet.
            guard let owner = Int32(name.dropFirst(prefix.count)), owner == getpid() || !isRunning(owner, in: nil)
            else { continue }
            let dir = tmp + name
            let env = (try? String(contentsOfFile: dir + "/env", encoding: .utf8)) ?? ""
            let serverPIDs = env.split(separator: "\n").compactMap { line -> Int32? in
                let parts = line.split(separator: "=", maxSplits: 1)
                guard parts.count == 2, ["APISERVER_PID", "ETCD_PID", "WATCHDOG_PID"].contains(String(parts[0]))
                else { return nil }
                return Int32(parts[1])
            }
            if serverPIDs.contains(where: { isRunning($0, in: dir) }) { continue }
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    /// Whether `pid` is alive (not a zombie) and, if `dir` is given, has it on its command line.
    static func isRunning(_ pid: Int32, in dir: String?) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
        if let close = stat.lastIndex(of: ")"), stat[stat.index(after: close)...].hasPrefix(" Z") { return false }
        guard let dir else { return true }
        let cmdline = (try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/cmdline"))) ?? Data()
        return String(decoding: cmdline, as: UTF8.self).contains(dir)
    }

    /// Creates (if needed) ServiceAccount kube-system/`name` and writes its token, ca.crt and namespace.
    func serviceAccount(_ name: String, into dir: String) async throws(HarnessError) {
        let result = await KubeHarness.run(
            [KubeHarness.harnessDir + "/sa-token.sh", stateDir, "kube-system", name, dir],
            env: ["TOKEN_EXPIRATION_SECONDS": "3600"])
        guard result.status == 0 else { throw HarnessError("sa-token.sh \(name) failed: \(result.stderr)") }
    }

    @discardableResult
    func kubectl(_ arguments: [String], stdin: String? = nil) async throws(HarnessError) -> String {
        let result = await KubeHarness.run(
            ["/usr/bin/kubectl", "--kubeconfig", env["KUBECONFIG"] ?? ""] + arguments, stdin: stdin)
        guard result.status == 0 else {
            throw HarnessError("kubectl \(arguments.joined(separator: " ")) failed: \(result.stderr)")
        }
        return result.stdout
    }

    /// The in-cluster config a pod with this ServiceAccount directory gets.
    func inClusterConfig(serviceAccountDir: String) throws -> ConnectionConfig {
        try ConnectionConfig.inCluster(
            serviceAccountDir: serviceAccountDir,
            environment: ["KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": "\(port)"])
    }

    func restartAPIServer() async throws(HarnessError) {
        let result = await KubeHarness.run([KubeHarness.harnessDir + "/apiserver-restart.sh", stateDir])
        guard result.status == 0 else { throw HarnessError("apiserver-restart.sh failed: \(result.stderr)") }
    }

    /// Compacts etcd's history up to its current revision, so older resourceVersions are gone.
    func compactEtcd() async throws(HarnessError) {
        let endpoint = env["ETCD_ENDPOINT"] ?? ""
        let status = await KubeHarness.run(
            ["/usr/bin/etcdctl", "--endpoints=\(endpoint)", "endpoint", "status", "--write-out=json"],
            env: ["ETCDCTL_API": "3"])
        guard let range = status.stdout.range(of: #""revision":"#) else {
            throw HarnessError("etcdctl endpoint status: \(status.stdout) \(status.stderr)")
        }
        let revision = status.stdout[range.upperBound...].prefix { $0.isNumber }
        let compact = await KubeHarness.run(
            ["/usr/bin/etcdctl", "--endpoints=\(endpoint)", "compact", String(revision)], env: ["ETCDCTL_API": "3"])
        guard compact.status == 0 else { throw HarnessError("etcdctl compact: \(compact.stderr)") }
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs a tool to completion; its waiting happens on a thread of its own, so no concurrency thread
    /// blocks while the client under test needs them.
    ///
    /// Output goes through files, not pipes (apiserver-up.sh leaves daemons behind that inherit its
    /// descriptors, so a pipe would never reach end-of-file), and the child gets a clean signal mask and
    /// default handlers (the test process blocks signals its children must not inherit).
    static func run(_ arguments: [String], env extra: [String: String] = [:], stdin: String? = nil) async -> Output {
        let scratch = NSTemporaryDirectory() + "kpt-kube-run-\(UUID().uuidString.prefix(8))"
        let (outPath, errPath, inPath) = (scratch + ".out", scratch + ".err", scratch + ".in")
        defer { for path in [outPath, errPath, inPath] { try? FileManager.default.removeItem(atPath: path) } }
        _ = FileManager.default.createFile(atPath: inPath, contents: Data((stdin ?? "").utf8))

        let environment = ProcessInfo.processInfo.environment.merging(extra) { $1 }
        let pid: pid_t
        do {
            pid = try ChildProcess.spawn(
                arguments, stdin: inPath, stdout: outPath, stderr: errPath, truncate: true, environment: environment)
        } catch {
            return Output(status: -1, stdout: "", stderr: error.description)
        }
        let status = await ChildProcess.waitForExit(pid)
        return Output(
            status: status,
            stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
            stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }
}

struct HarnessError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// A running reflector set whose model a test can wait on.
final class LiveModel: Sendable {
    struct Seen: Sendable {
        var state = ClusterState(nodeName: "node-a")
        var synced = false
        var problems: [KubeClientError] = []
        var skipped: [SkippedObject] = []
        var serviceRelists = 0
    }

    let client: KubeClient
    let seen = Mutex(Seen())
    let task: Mutex<Task<Void, Never>?> = Mutex(nil)

    init(config: ConnectionConfig, watch: ClusterWatch = LiveModel.fastWatch) throws {
        client = try KubeClient(config: config, logger: KubeLog.logger())
        let stream = client.clusterUpdates(watch)
        let updates = Task { [self] in
            for await update in stream {
                self.seen.withLock { seen in
                    switch update {
                    case .events(let events):
                        for case .replaceAll(.service, _) in events { seen.serviceRelists += 1 }
                        seen.state.apply(events)
                    case .synced: seen.synced = true
                    case .problem(let error, _): seen.problems.append(error)
                    case .skipped(let object): seen.skipped.append(object)
                    }
                }
            }
        }
        task.withLock { $0 = updates }
    }

    static let fastWatch = ClusterWatch(
        nodeName: "node-a",
        reflector: ReflectorOptions(
            backoff: Backoff(initial: .milliseconds(100), maximum: .seconds(1)), watchTimeoutSeconds: 60))

    /// Polls until `condition` holds; false after `timeout`.
    func wait(timeout: Duration = .seconds(2), _ condition: (Seen) -> Bool) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if seen.withLock({ condition($0) }) { return true }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return seen.withLock { condition($0) }
    }

    var snapshot: Seen { seen.withLock { $0 } }

    func stop() async {
        task.withLock { $0?.cancel() }
        await client.shutdown()
    }
}

/// Every log line the suite produced, to prove no token leaks into them.
struct KubeLog: LogHandler {
    static let lines = Mutex<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        KubeLog.lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
    }

    static func record(_ text: String) { lines.withLock { $0.append(text) } }

    static func logger() -> Logger {
        var logger = Logger(label: "kube-it") { _ in KubeLog() }
        logger.logLevel = .trace
        return logger
    }

    /// Fails the test if any captured line or CLI output contains one of the tokens in these files.
    static func expectNoToken(from tokenFiles: [String]) {
        let tokens = tokenFiles.compactMap { try? String(contentsOfFile: $0, encoding: .utf8) }
            .map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }.filter { $0.count > 16 }
        let all = lines.withLock { $0 }
        #expect(!all.isEmpty)
        for token in tokens {
            // The JWT's signature part is the secret; no line may hold it (nor the whole token).
            let signature = String(token.split(separator: ".").last ?? Substring(token))
            #expect(!all.contains { $0.contains(signature) }, "a log line contains a token")
        }
    }
}
