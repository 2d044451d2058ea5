import Foundation
import Glibc
import Testing

/// The built `kproxy` binary, next to this test bundle in `.build/<config>/`.
enum KProxyBinary {
    static let path: String = {
        let bundle = Bundle.main.bundleURL.deletingLastPathComponent()
        let candidates = [bundle.appendingPathComponent("kproxy").path]
            + ["debug", "release"].map { repositoryRoot.appendingPathComponent(".build/\($0)/kproxy").path }
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) } ?? candidates[0]
    }()

    static let repositoryRoot = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    static var available: Bool { FileManager.default.isExecutableFile(atPath: path) }
}

/// A free TCP port on loopback: bound, read back, and released for the daemon to take.
func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { socketAddress in
            bind(fd, socketAddress, length) == 0 && getsockname(fd, socketAddress, &length) == 0
        }
    }
    guard bound else { throw CommandError(command: "bind", status: errno, stderr: "cannot find a free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// A `kproxy run` process, stopped with SIGTERM when the test is done with it.
final class DaemonProcess: @unchecked Sendable {
    let process = Process()
    let log: URL

    init(_ arguments: [String]) throws {
        log = FileManager.default.temporaryDirectory.appendingPathComponent("kproxy-run-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        process.executableURL = URL(fileURLWithPath: KProxyBinary.path)
        process.arguments = ["run"] + arguments
        let handle = try FileHandle(forWritingTo: log)
        process.standardOutput = handle
        process.standardError = handle
        try process.run()
    }

    var output: String { (try? String(contentsOf: log, encoding: .utf8)) ?? "" }

    /// Sends SIGTERM and waits for the exit status.
    @discardableResult
    func terminate() -> Int32 {
        if process.isRunning {
            process.terminate()
            process.waitUntilExit()
        }
        return process.terminationStatus
    }

    deinit {
        if process.isRunning { process.terminate() }
        try? FileManager.default.removeItem(at: log)
    }
}

/// Polls until `condition` holds or `seconds` pass; returns whether it held.
func waitUntil(seconds: Double, _ condition: () throws -> Bool) rethrows -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try condition() { return true }
        usleep(50_000)
    }
    return try condition()
}

@Suite(
    "kproxy run against the kernel", .serialized,
    .enabled(if: NetfilterEnvironment.available && KProxyBinary.available, NetfilterEnvironment.skipReason))
struct DaemonRunTests {
    static let demo = KProxyBinary.repositoryRoot.appendingPathComponent("deploy/examples/demo-cluster")
    static let demoConfig = KProxyBinary.repositoryRoot.appendingPathComponent("deploy/examples/demo-config.yaml")

    /// A private, editable copy of the demo cluster.
    func copyOfDemo() throws -> URL {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("kproxy-demo-\(UUID().uuidString)")
        try FileManager.default.copyItem(at: Self.demo, to: directory)
        return directory
    }

    func newService(_ name: String, ip: String) -> String {
        """
        apiVersion: v1
        kind: Service
        metadata: {name: \(name), namespace: demo}
        spec: {clusterIP: \(ip), ports: [{name: http, port: 80, targetPort: 8080}]}
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata:
          name: \(name)-1
          namespace: demo
          labels: {kubernetes.io/service-name: \(name)}
        addressType: IPv4
        ports: [{name: http, port: 8080, protocol: TCP}]
        endpoints: [{addresses: [10.244.1.77], conditions: {ready: true}, nodeName: node-a}]
        """
    }

    @Test func programsTheDemoFollowsEditsAndLeavesRulesInPlaceOnSIGTERM() throws {
        let namespace = try ScratchNamespace("run")
        let manifests = try copyOfDemo()
        defer { try? FileManager.default.removeItem(at: manifests) }
        let healthz = try freeLoopbackPort()
        let metrics = try freeLoopbackPort()
        let dns = try freeLoopbackPort()
        let arguments = [
            "--dns-listen", "127.0.0.1:\(dns)",
            "--config", Self.demoConfig.path, "--manifests", manifests.path, "--netns", namespace.name,
            "--healthz-bind-address", "127.0.0.1:\(healthz)", "--metrics-bind-address", "127.0.0.1:\(metrics)",
        ]
        let daemon = try DaemonProcess(arguments)
        let listing = { (try? run(["ip", "netns", "exec", namespace.name, "nft", "list", "ruleset"])) ?? "" }

        #expect(waitUntil(seconds: 10) { listing().contains("10.96.100.10") }, "the demo's web ClusterIP is programmed\n\(daemon.output)")
        let dryRun = try run([KProxyBinary.path, "rules", "--config", Self.demoConfig.path, "--manifests", manifests.path])
        let reference = try ScratchNamespace("ref")
        try run(["ip", "netns", "exec", reference.name, "nft", "-f", "-"], input: dryRun)
        #expect(ListingCanon.canonical(listing()) == ListingCanon.canonical(
            try run(["ip", "netns", "exec", reference.name, "nft", "list", "ruleset"])),
            "the daemon programs exactly what the dry run prints")

        // An edit reaches the kernel within 2 s.
        try newService("added", ip: "10.96.200.1").write(
            to: manifests.appendingPathComponent("99-added.yaml"), atomically: true, encoding: .utf8)
        #expect(waitUntil(seconds: 2.5) { listing().contains("10.96.200.1") }, "the new Service reached the kernel")
        let answer = try run(["dig", "+short", "@127.0.0.1", "-p", "\(dns)", "added.demo.svc.cluster.local"])
        #expect(answer == "10.96.200.1\n", "DNS answers the new Service from the same model")

        let health = try run(["curl", "-s", "-w", "\n%{http_code}", "http://127.0.0.1:\(healthz)/healthz"])
        #expect(health.hasSuffix("\n200"), "healthz: \(health)")
        #expect(health.contains(#""nodeEligible": true"#))
        let scrape = try run(["curl", "-s", "http://127.0.0.1:\(metrics)/metrics"])
        #expect(scrape.contains("kproxy_sync_proxy_rules_duration_seconds_count"))
        #expect(scrape.contains("kproxy_network_programming_duration_seconds"))

        // SIGTERM stops the daemon and leaves its rules.
        let before = listing()
        #expect(daemon.terminate() == 0, "clean exit\n\(daemon.output)")
        #expect(listing() == before)

        // A new instance adopts the tables: same rules, no duplicate.
        let second = try DaemonProcess(arguments)
        let synced = waitUntil(seconds: 10) {
            let body = (try? run(["curl", "-s", "http://127.0.0.1:\(healthz)/healthz"])) ?? ""
            return body.contains("lastUpdated") && !body.contains(#""lastUpdated": """#)
        }
        #expect(synced, "the second instance synced\n\(second.output)")
        #expect(ListingCanon.canonical(listing()) == ListingCanon.canonical(before), "adopted without change")
        second.terminate()

        try run([KProxyBinary.path, "cleanup", "--netns", namespace.name])
        #expect(!listing().contains("kproxy"))
    }

    /// Another program owning `ip kproxy` (nft's `flags owner`) makes every batch fail with EPERM: the
    /// kernel keeps refusing, healthz must say so, and kproxy must recover once the owner goes away.
    @Test func healthzFailsWhileTheKernelRefusesAndRecoversAfter() throws {
        let namespace = try ScratchNamespace("own")
        let owner = Process()
        owner.executableURL = URL(fileURLWithPath: "/bin/sh")
        owner.arguments = ["-c", "(echo 'add table ip kproxy { flags owner ; }'; sleep 60) | ip netns exec \(namespace.name) nft -i"]
        owner.standardOutput = FileHandle.nullDevice
        try owner.run()
        /// nft runs inside the namespace (kproxy only holds a socket there), so killing its processes ends the owner.
        let killOwner = { _ = try? run(["sh", "-c", "ip netns pids \(namespace.name) | xargs -r kill -KILL"]) }
        defer { killOwner() }
        #expect(waitUntil(seconds: 5) { ((try? namespace.ruleset()) ?? "").contains("table ip kproxy") })

        let config = FileManager.default.temporaryDirectory.appendingPathComponent("kproxy-fast-\(UUID().uuidString).yaml")
        try String(contentsOf: Self.demoConfig, encoding: .utf8).replacingOccurrences(of: "syncPeriod: 30s", with: "syncPeriod: 1s")
            .write(to: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: config) }
        let healthz = try freeLoopbackPort()
        let metrics = try freeLoopbackPort()
        let daemon = try DaemonProcess([
            "--config", config.path, "--manifests", Self.demo.path, "--netns", namespace.name, "--dns-listen", "",
            "--healthz-bind-address", "127.0.0.1:\(healthz)", "--metrics-bind-address", "127.0.0.1:\(metrics)",
        ])
        let status = { (try? run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1:\(healthz)/healthz"])) ?? "" }
        #expect(waitUntil(seconds: 6) { status() == "503" }, "healthz reports the failing syncs\n\(daemon.output)")
        let scrape = try run(["curl", "-s", "http://127.0.0.1:\(metrics)/metrics"])
        #expect(scrape.contains("kproxy_sync_proxy_rules_nftables_sync_failures_total"))
        #expect(daemon.output.contains("Operation not permitted"), "the kernel's refusal is logged")

        // The owner exits, its table goes with it, and the next (full) sync succeeds.
        killOwner()
        owner.terminate()
        #expect(waitUntil(seconds: 6) { status() == "200" }, "healthz recovers\n\(daemon.output)")
        #expect(((try? namespace.ruleset()) ?? "").contains("10.96.100.10"))
        daemon.terminate()
    }

    @Test func aBrokenConfigNamesTheFieldAndExitsNonZero() throws {
        let config = FileManager.default.temporaryDirectory.appendingPathComponent("kproxy-bad-\(UUID().uuidString).yaml")
        try "kind: KubeProxyConfiguration\nnftables: {minSyncPeriod: soon}\n".write(to: config, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: config) }
        let daemon = try DaemonProcess(["--config", config.path, "--manifests", Self.demo.path, "--dry-run"])
        daemon.process.waitUntilExit()
        #expect(daemon.process.terminationStatus != 0)
        #expect(daemon.output.contains("nftables.minSyncPeriod"), "\(daemon.output)")
    }
}
