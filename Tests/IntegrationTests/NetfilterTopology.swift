import Foundation
import Glibc

/// A node with three pods and an outside client, wired with veth pairs in scratch namespaces:
///
/// ```
///  client 10.0.0.100 ── vc 10.0.0.11 (node IP) ┐
///  pod-1  10.244.1.2 ── vp1 10.244.1.1         ├─ node (forwarding; kproxy's rules go here)
///  pod-2  10.244.2.2 ── vp2 10.244.2.1         │
///  pod-3  10.244.3.2 ── vp3 10.244.3.1         ┘
/// ```
///
/// Each pod runs a tiny HTTP server on :8080 answering `<pod name> <peer address>`, and a UDP echo server
/// on :5353 answering `<pod name> <payload>`. Servers are started by this object and killed by PID.
final class TrafficTopology: @unchecked Sendable {
    let node: ScratchNamespace
    let client: ScratchNamespace
    let pods: [ScratchNamespace]
    private var servers: [Process] = []

    static let nodeIP = "10.0.0.11"
    static let clientIP = "10.0.0.100"
    static func podIP(_ index: Int) -> String { "10.244.\(index + 1).2" }
    static func podName(_ index: Int) -> String { "pod-\(index + 1)" }

    /// HTTP on 8080 and UDP echo on 5353, both naming the pod; the HTTP answer also names the peer, so
    /// a test can tell masqueraded traffic from direct.
    static let serverScript = #"""
        import os, socket, threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        name = os.environ["POD_NAME"]
        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                body = f"{name} {self.client_address[0]}\n".encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(body)
            def log_message(self, *args):
                pass
        def echo():
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            udp.bind(("0.0.0.0", 5353))
            while True:
                data, peer = udp.recvfrom(2048)
                udp.sendto(name.encode() + b" " + data, peer)
        threading.Thread(target=echo, daemon=True).start()
        ThreadingHTTPServer(("0.0.0.0", 8080), Handler).serve_forever()
        """#

    init() throws {
        node = try ScratchNamespace("nfnode")
        client = try ScratchNamespace("nfcli")
        pods = try (0..<3).map { _ in try ScratchNamespace("nfpod") }
        try node.exec(["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        try node.exec(["sysctl", "-qw", "net.ipv4.conf.all.rp_filter=0"])
        try link(node: "vc", nodeAddress: "\(Self.nodeIP)/24", peer: client, peerAddress: "\(Self.clientIP)/24")
        for (index, pod) in pods.enumerated() {
            try link(
                node: "vp\(index + 1)",
                nodeAddress: "10.244.\(index + 1).1/24",
                peer: pod,
                peerAddress: "\(Self.podIP(index))/24"
            )
        }
        for (index, pod) in pods.enumerated() {
            let process = Process()
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = ["ip", "netns", "exec", pod.name, "python3", "-c", Self.serverScript]
            var environment = ProcessInfo.processInfo.environment
            environment["POD_NAME"] = Self.podName(index)
            process.environment = environment
            process.standardOutput = FileHandle.nullDevice
            try process.run()
            servers.append(process)
        }
        for index in pods.indices { try waitForServer(index) }
    }

    deinit {
        for server in servers where server.isRunning {
            kill(server.processIdentifier, SIGKILL)
            server.waitUntilExit()
        }
    }

    /// A veth pair from the node to `peer`, whose default route points back at the node.
    private func link(node name: String, nodeAddress: String, peer: ScratchNamespace, peerAddress: String) throws {
        try run([
            "ip", "-n", node.name, "link", "add", name, "type", "veth", "peer", "name", "eth0", "netns", peer.name,
        ])
        try run(["ip", "-n", node.name, "addr", "add", nodeAddress, "dev", name])
        try run(["ip", "-n", node.name, "link", "set", name, "up"])
        try run(["ip", "-n", peer.name, "addr", "add", peerAddress, "dev", "eth0"])
        try run(["ip", "-n", peer.name, "link", "set", "eth0", "up"])
        let gateway = nodeAddress.split(separator: "/")[0]
        try run(["ip", "-n", peer.name, "route", "add", "default", "via", String(gateway)])
    }

    private func waitForServer(_ index: Int) throws {
        for _ in 0..<100 {
            if (try? pods[index].exec(["curl", "-s", "--max-time", "1", "http://127.0.0.1:8080/"])) != nil { return }
            usleep(50_000)
        }
        throw CommandError(command: "waiting for \(Self.podName(index))'s server", status: -1, stderr: "")
    }

    enum Answer: Equatable {
        case body(String)
        /// curl's exit status: 7 refused (a REJECT), 28 timed out (a DROP).
        case failed(Int)

        var body: String? {
            if case .body(let text) = self { return text }
            return nil
        }
    }

    /// Fetches `url` `count` times from `from`, returning each answer and how long the whole run took. One
    /// shell loop, so sixty requests cost one process start.
    func fetch(
        _ url: String,
        from namespace: ScratchNamespace,
        count: Int = 1,
        timeout: Double = 1
    ) throws
        -> (answers: [Answer], seconds: Double)
    {
        let script = """
            for i in $(seq \(count)); do
              out=$(curl -s --max-time \(timeout) \(url)) && echo "ok $out" || echo "fail $?"
            done
            """
        let start = Date()
        let output = try namespace.exec(["sh", "-c", script])
        let seconds = Date().timeIntervalSince(start)
        let answers = output.split(separator: "\n").map { line -> Answer in
            line.hasPrefix("ok ") ? .body(String(line.dropFirst(3))) : .failed(Int(line.dropFirst(5)) ?? -1)
        }
        return (answers, seconds)
    }

    /// Sends one UDP datagram (from `sourcePort`, or any) and returns the answer, or nil after a second.
    func udp(
        _ address: String,
        port: Int,
        payload: String,
        from namespace: ScratchNamespace,
        sourcePort: Int = 0
    ) throws -> String? {
        let script = """
            import socket, sys
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("0.0.0.0", int(sys.argv[4])))
            s.settimeout(1)
            s.sendto(sys.argv[3].encode(), (sys.argv[1], int(sys.argv[2])))
            try:
                print(s.recvfrom(2048)[0].decode())
            except socket.timeout:
                print("")
            """
        let answer = try namespace.exec(["python3", "-c", script, address, String(port), payload, String(sourcePort)])
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return answer.isEmpty ? nil : answer
    }
}
