import ClusterDNS
import ClusterModel
import Foundation
import KubeModel
import Testing

/// The real glibc resolver (`getent ahosts`) against `kproxy dns`, as a pod would use it.
///
/// Two network namespaces joined by a veth pair: the client side has the IP of the demo cluster's pod
/// `demo/client` (10.244.1.100), so kproxy knows who is asking; kproxy listens on port 53 on the other
/// side (glibc always uses port 53), with dnsmasq behind it as the upstream answering `example.net`.
/// `ip netns exec` bind-mounts `/etc/netns/<ns>/resolv.conf`, which holds a pod's search list. The
/// non-loopback address matters: getaddrinfo's AI_ADDRCONFIG sends no A query without one.
@Suite("glibc's resolver against kproxy", .serialized)
struct DNSGlibcTests {
    static let clientIP = "10.244.1.100"
    static let serverIP = "10.244.1.254"
    static let tools = ["ip", "getent", "dnsmasq"]
    static let podConf = ResolvConf.pod(
        namespace: "demo", zone: "cluster.local", nameserver: IPAddress(serverIP)!)

    static var ready: Bool {
        DNSTestSupport.isRoot && tools.allSatisfy { DNSTestSupport.which($0) != nil }
            && DNSTestSupport.kproxyBinary != nil
    }

    static var skipReason: Comment {
        "needs root, \(tools.joined(separator: ", ")) (Debian iproute2, libc-bin, dnsmasq-base) and the kproxy binary"
    }

    /// The namespaces, resolv.conf and processes of one test; ``tearDown()`` removes every trace.
    final class Lab {
        let tag = String(UInt32.random(in: 0...0xFFFFFF), radix: 16)
        var client: String { "kpt-dns-\(tag)-c" }
        var server: String { "kpt-dns-\(tag)-s" }
        var resolvDirectory: String { "/etc/netns/\(client)" }
        var processes: [Subprocess] = []
        var kproxyLog: URL?
        var logs: [URL] = []

        func ip(_ arguments: String...) throws {
            let output = try DNSTestSupport.run([DNSTestSupport.which("ip")!] + arguments)
            guard output.status == 0 else {
                throw LabError(detail: "ip \(arguments.joined(separator: " ")): \(output.stderr)")
            }
        }

        func setUp() throws {
            try ip("netns", "add", client)
            try ip("netns", "add", server)
            try ip(
                "link", "add", "kptd\(tag)c", "netns", client, "type", "veth", "peer", "name", "kptd\(tag)s", "netns",
                server)
            try ip("-n", client, "addr", "add", "\(DNSGlibcTests.clientIP)/24", "dev", "kptd\(tag)c")
            try ip("-n", server, "addr", "add", "\(DNSGlibcTests.serverIP)/24", "dev", "kptd\(tag)s")
            for (namespace, link) in [(client, "kptd\(tag)c"), (server, "kptd\(tag)s")] {
                try ip("-n", namespace, "link", "set", "lo", "up")
                try ip("-n", namespace, "link", "set", link, "up")
            }
            try FileManager.default.createDirectory(atPath: resolvDirectory, withIntermediateDirectories: true)
            // What kubelet writes for a ClusterFirst pod in demo.
            try DNSGlibcTests.podConf.text.write(
                toFile: "\(resolvDirectory)/resolv.conf", atomically: true, encoding: .utf8)
        }

        func start(_ arguments: [String], log: URL? = nil) throws -> Subprocess {
            let process = try Subprocess(
                [DNSTestSupport.which("ip")!, "netns", "exec", server] + arguments, stderr: log?.path ?? "/dev/null")
            processes.append(process)
            return process
        }

        /// dnsmasq as the node's upstream: `example.net` has an A record, nothing else exists.
        func startUpstream() throws {
            _ = try start([
                DNSTestSupport.which("dnsmasq")!, "--keep-in-foreground", "--no-resolv", "--no-hosts",
                "--bind-interfaces", "--listen-address=127.0.0.1", "--port=5300", "--user=root",
                "--pid-file=", "--address=/example.net/192.0.2.80",
            ])
        }

        func startKproxy(serverSideSearch: Bool) async throws -> Subprocess {
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("kpt-dns-\(tag)-\(logs.count).log")
            logs.append(log)
            kproxyLog = log
            let process = try start(
                [
                    DNSTestSupport.kproxyBinary!, "dns", "--manifests", DNSTestSupport.demoCluster,
                    "--listen", "\(DNSGlibcTests.serverIP):53", "--upstream", "127.0.0.1:5300",
                    "--allow-recursion", "10.244.0.0/16", "--resolv-conf", "/dev/null", "--udp-sockets", "1",
                    "--log-queries", serverSideSearch ? "--enable-server-side-search" : "--disable-server-side-search",
                ], log: log)
            for _ in 0..<100 {
                if (try? String(contentsOf: log, encoding: .utf8))?.contains("DNS server listening") == true {
                    return process
                }
                try await Task.sleep(for: .milliseconds(100))
            }
            throw LabError(detail: "kproxy did not start: \((try? String(contentsOf: log, encoding: .utf8)) ?? "")")
        }

        func stop(_ process: Subprocess) {
            process.terminate()
            processes.removeAll { $0 === process }
        }

        /// `getent ahosts NAME` in the client namespace: the addresses, or [] when it failed.
        func getent(_ name: String) throws -> [String] {
            let output = try DNSTestSupport.run([
                DNSTestSupport.which("ip")!, "netns", "exec", client, DNSTestSupport.which("getent")!, "ahosts", name,
            ])
            guard output.status == 0 else { return [] }
            return Array(
                Set(output.stdout.split(separator: "\n").compactMap { $0.split(separator: " ").first.map(String.init) })
            )
            .sorted()
        }

        /// (name, type) of every query kproxy logged from the client, in order.
        func queries() -> [(name: String, type: String)] {
            guard let log = kproxyLog, let text = try? String(contentsOf: log, encoding: .utf8) else { return [] }
            return text.split(separator: "\n").compactMap { line -> (String, String)? in
                guard line.contains("client=\(DNSGlibcTests.clientIP) "), let name = field(line, "name"),
                    let type = field(line, "type")
                else { return nil }
                return (name, type)
            }
        }

        func field(_ line: Substring, _ key: String) -> String? {
            guard let range = line.range(of: " \(key)=") ?? line.range(of: ": \(key)=") else { return nil }
            return String(line[range.upperBound...].prefix { $0 != " " })
        }

        func tearDown() {
            for process in processes { process.terminate() }
            _ = try? ip("netns", "delete", client)
            _ = try? ip("netns", "delete", server)
            try? FileManager.default.removeItem(atPath: resolvDirectory)
            for log in logs { try? FileManager.default.removeItem(at: log) }
        }
    }

    struct LabError: Error, CustomStringConvertible {
        var detail: String
        var description: String { detail }
    }

    static func withLab(_ body: (Lab) async throws -> Void) async throws {
        let lab = Lab()
        defer { lab.tearDown() }
        try lab.setUp()
        try lab.startUpstream()
        try await body(lab)
    }

    /// The candidate names glibc sends, in order, given what kproxy answers: the plan replayed against the
    /// same zone, as the pod `demo/client` sees it.
    static func predicted(
        _ name: String, serverSideSearch: Bool, upstreamHas: Set<String> = ["example.net."]
    ) throws
        -> [String]
    {
        let conf = podConf
        let zone = ZoneIndex(
            config: ZoneConfig(serverSideSearch: serverSideSearch),
            snapshot: try DNSTestSupport.snapshot(of: URL(fileURLWithPath: DNSTestSupport.demoCluster)))
        let plan = SearchPlan(name: name, conf: conf)
        let steps = plan.walk { candidate in
            [RecordType.a].map { type in
                let query = Message.query(id: 1, name: try! DNSName(candidate.name), type: type)
                switch zone.answer(query, clientNamespace: "demo") {
                case .response(let reply):
                    return SearchPlan.Response(rcode: UInt8(reply.rcode.rawValue), answers: reply.answers.count)
                case .notInZone:
                    return upstreamHas.contains(candidate.name) ? .answer() : .nxDomain
                case .resolve(let continuation):
                    let found = continuation.candidates.contains { upstreamHas.contains($0.description) }
                    return found ? .answer() : .nxDomain
                }
            }
        }
        return steps.map(\.candidate.name)
    }

    /// Collapses the log to the distinct names in the order first asked (A and AAAA of one name go together).
    static func names(_ queries: [(name: String, type: String)]) -> [String] {
        var result: [String] = []
        for query in queries where result.last != query.name { result.append(query.name) }
        return result
    }

    @Test(.enabled(if: ready, skipReason))
    func clusterNamesResolveInTheOrderSearchPlanPredicts() async throws {
        try await Self.withLab { lab in
            _ = try await lab.startKproxy(serverSideSearch: false)
            for (name, addresses) in [
                ("web", ["10.96.100.10"]),
                ("web.demo", ["10.96.100.10"]),
                ("kube-dns.kube-system", ["10.96.0.10"]),
                ("10-244-1-100.demo.pod.cluster.local", ["10.244.1.100"]),
            ] {
                let before = lab.queries().count
                #expect(try lab.getent(name) == addresses, "getent ahosts \(name)")
                let asked = Self.names(Array(lab.queries().dropFirst(before)))
                #expect(asked == (try Self.predicted(name, serverSideSearch: false)), "queries for \(name)")
            }
        }
    }

    @Test(.enabled(if: ready, skipReason))
    func serverSideSearchCutsAnExternalNameToAtMostTwoQueries() async throws {
        try await Self.withLab { lab in
            let plain = try await lab.startKproxy(serverSideSearch: false)
            #expect(try lab.getent("example.net") == ["192.0.2.80"])
            let withoutSearch = lab.queries()
            #expect(Self.names(withoutSearch) == (try Self.predicted("example.net", serverSideSearch: false)))
            lab.stop(plain)

            _ = try await lab.startKproxy(serverSideSearch: true)
            #expect(try lab.getent("example.net") == ["192.0.2.80"])
            let withSearch = lab.queries()
            #expect(withSearch.count <= 2, "queries: \(withSearch)")
            #expect(withSearch.count < withoutSearch.count)
            #expect(Self.names(withSearch) == ["example.net.demo.svc.cluster.local."])
            #expect(Self.names(withSearch) == (try Self.predicted("example.net", serverSideSearch: true)))
            // Cluster names still resolve, from another namespace's short name too.
            #expect(try lab.getent("kube-dns.kube-system") == ["10.96.0.10"])
            #expect(
                Self.names(Array(lab.queries().dropFirst(withSearch.count))) == [
                    "kube-dns.kube-system.demo.svc.cluster.local."
                ])
        }
    }
}
