import ClusterDNS
import Foundation
import KubeModel
import Logging
import NIOCore
import NIOPosix

/// Processes and servers for the forwarding tests: dnsmasq as the upstream, kproxy's server in process,
/// and dig as the client.
enum DNSForwardHarness {
    static func toolPath(_ name: String) -> String? {
        ["/usr/bin", "/usr/sbin", "/bin", "/sbin"].map { "\($0)/\(name)" }
            .first { FileManager.default.isExecutableFile(atPath: $0) }
    }

    static var toolsMissing: String? {
        if toolPath("dig") == nil { return "dig is missing: apt-get install bind9-dnsutils" }
        if toolPath("dnsmasq") == nil { return "dnsmasq is missing: apt-get install dnsmasq-base" }
        return nil
    }

    /// Starts `path` with stdout and stderr going to `output`, with a clean signal mask: the test process
    /// blocks signals its children must not inherit (a dnsmasq that ignores SIGTERM outlives the test).
    static func spawn(_ path: String, _ arguments: [String], output: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, output, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&attributes, &empty)
        var defaults = sigset_t()
        sigemptyset(&defaults)
        for signal in [SIGTERM, SIGINT, SIGPIPE, SIGCHLD] { sigaddset(&defaults, signal) }
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        let argv = ([path] + arguments).map { strdup($0) } + [nil]
        defer { for argument in argv { free(argument) } }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
        guard result == 0 else { throw SpawnFailed(path: path, errno: result) }
        return pid
    }

    struct SpawnFailed: Error, CustomStringConvertible {
        let path: String
        let errno: Int32
        var description: String { "cannot start \(path): \(String(cString: strerror(errno)))" }
    }

    /// Waits for a child on a thread of its own, so no concurrency thread blocks (the server under test
    /// needs them).
    static func waitForExit(_ pid: pid_t) async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                continuation.resume()
            }
        }
    }

    /// Runs a tool to completion and returns what it printed.
    static func run(_ tool: String, _ arguments: [String]) async throws -> String {
        let output = FileManager.default.temporaryDirectory.appendingPathComponent(
            "kpt-dnsfwd-\(UUID().uuidString).out"
        )
        defer { try? FileManager.default.removeItem(at: output) }
        let pid = try spawn(toolPath(tool) ?? tool, arguments, output: output.path)
        await waitForExit(pid)
        return (try? String(contentsOf: output, encoding: .utf8)) ?? ""
    }

    /// `dig` against kproxy, with the header comments and the answer section only.
    static func dig(
        _ name: String,
        port: Int,
        source: String? = nil,
        tcp: Bool = false,
        extra: [String] = []
    ) async throws -> DigResult {
        var arguments =
            extra + [
                "@127.0.0.1", "-p", "\(port)", name, "A", "+tries=1", "+time=4", "+noall", "+comments", "+answer",
            ]
        if let source { arguments += ["-b", source] }
        if tcp { arguments.append("+tcp") }
        return DigResult(output: try await run("dig", arguments))
    }

    struct DigResult {
        let output: String
        var status: String? {
            output.range(of: #"status: ([A-Z]+)"#, options: .regularExpression).map {
                String(output[$0].dropFirst("status: ".count))
            }
        }
        /// (owner, ttl, rdata) for each answer line.
        var answers: [(String, Int, String)] {
            output.split(separator: "\n").filter { !$0.hasPrefix(";") && !$0.isEmpty }.compactMap { line in
                let fields = line.split(whereSeparator: { $0 == " " || $0 == "\t" })
                guard fields.count >= 5, let ttl = Int(fields[1]) else { return nil }
                return (String(fields[0]), ttl, String(fields[4]))
            }
        }
    }

    /// dnsmasq on a loopback port answering `example.net` names with 192.0.2.53 (TTL 60), logging each
    /// query it receives to `log`.
    struct Dnsmasq: Sendable {
        let pid: pid_t
        let port: Int
        let log: URL
        let hosts: URL

        /// With `bigAnswer`, `big.example.net` has that many A records (from a hosts file), too many for UDP.
        init(bigAnswer: Int = 0) throws {
            port = Int.random(in: 30000..<40000)
            log = FileManager.default.temporaryDirectory.appendingPathComponent("kpt-dnsfwd-\(UUID().uuidString).log")
            hosts = FileManager.default.temporaryDirectory.appendingPathComponent(
                "kpt-dnsfwd-\(UUID().uuidString).hosts"
            )
            let lines = (0..<bigAnswer).map { "198.51.\($0 / 200).\($0 % 200 + 1) big.example.net\n" }.joined()
            try lines.write(to: hosts, atomically: true, encoding: .utf8)
            pid = try DNSForwardHarness.spawn(
                DNSForwardHarness.toolPath("dnsmasq") ?? "dnsmasq",
                [
                    "--keep-in-foreground", "--conf-file=/dev/null", "--no-resolv", "--no-hosts", "--pid-file=",
                    "--bind-interfaces", "--listen-address=127.0.0.1", "--port=\(port)", "--user=root",
                    "--address=/example.net/192.0.2.53", "--local-ttl=60", "--log-queries", "--log-facility=-",
                    "--addn-hosts=\(hosts.path)",
                ],
                output: log.path
            )
        }

        var upstream: Upstream { Upstream(address: .v4(0x7f00_0001), port: port) }

        /// Queries dnsmasq has logged for `name`.
        func queries(for name: String) -> Int {
            let text = (try? String(contentsOf: log, encoding: .utf8)) ?? ""
            return text.split(separator: "\n").filter { $0.contains("query[") && $0.contains(" \(name) from") }.count
        }

        /// Waits until dnsmasq answers, at most 5 s.
        func waitUntilReady() async throws {
            let probe = Message.query(id: 1, name: try DNSName("ready.example.net"), type: .a)
            for _ in 0..<50 {
                if (try? await NIOUpstreamExchanger().exchange(
                    probe.encoded(),
                    with: upstream,
                    over: .udp,
                    timeout: .milliseconds(100)
                )) != nil {
                    return
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw DnsmasqNotReady(port: port, log: (try? String(contentsOf: log, encoding: .utf8)) ?? "")
        }

        func stop() {
            kill(pid, SIGTERM)
            var status: Int32 = 0
            while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
            try? FileManager.default.removeItem(at: log)
            try? FileManager.default.removeItem(at: hosts)
        }
    }

    struct DnsmasqNotReady: Error, CustomStringConvertible {
        let port: Int
        let log: String
        var description: String { "dnsmasq did not answer on 127.0.0.1:\(port); its output:\n\(log)" }
    }

    /// A UDP socket that reads queries and never answers: an upstream that is down without ICMP errors.
    static func blackhole() async throws -> (any Channel, Upstream) {
        let channel = try await DatagramBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .bind(host: "127.0.0.1", port: 0).get()
        return (channel, Upstream(address: .v4(0x7f00_0001), port: channel.localAddress?.port ?? 0))
    }

    /// kproxy's server on an ephemeral loopback port, forwarding to `upstreams`, recursion for 127.0.0.1 only.
    static func withForwardingServer(
        upstreams: [Upstream],
        perUpstreamTimeout: Duration = .milliseconds(500),
        totalTimeout: Duration = .seconds(2),
        _ body: (_ port: Int) async throws -> Void
    ) async throws {
        let logger = Logger(label: "kproxy.dns.test")
        let forwarder = Forwarder(
            configuration: .init(
                upstreams: upstreams,
                perUpstreamTimeout: perUpstreamTimeout,
                totalTimeout: totalTimeout
            ),
            exchanger: NIOUpstreamExchanger(),
            logger: logger
        )
        let responder = ForwardingResponder(forwarder: forwarder, allowedClients: [CIDR("127.0.0.1/32")!])
        let server = DNSServer(
            configuration: DNSServerConfiguration(host: "127.0.0.1", port: 0),
            responder: responder,
            logger: logger
        )
        let listeners = try await server.bind()
        let port = listeners.udpAddress?.port ?? 0
        do {
            try await body(port)
        } catch {
            await listeners.close()
            throw error
        }
        await listeners.close()
    }
}
