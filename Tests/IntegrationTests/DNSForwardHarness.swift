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

    /// Starts `path` with stdout and stderr going to `output`.
    static func spawn(_ path: String, _ arguments: [String], output: String) throws -> pid_t {
        try ChildProcess.spawn([path] + arguments, stdout: output)
    }

    static func waitForExit(_ pid: pid_t) async {
        _ = await ChildProcess.waitForExit(pid)
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
