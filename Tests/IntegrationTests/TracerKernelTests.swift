import ClusterModel
import Foundation
import KubeModel
import RuleSynth
import Testing

/// The tracer's verdicts checked against the kernel: the synthesized ruleset is loaded into a scratch
/// "node" namespace, real UDP datagrams are sent from a "client" namespace (pods and off-cluster hosts)
/// or from the node itself, and conntrack shows where each went (the reply tuple names the DNAT target)
/// and whether it was masqueraded. Endpoint addresses are routed onto a veth whose far end answers no ARP:
/// the datagrams still cross every hook up to postrouting, where conntrack confirms the connection.
@Suite("Tracer against the kernel", .serialized)
struct TracerKernelTests {
    static let python = ["/usr/bin/python3", "/usr/local/bin/python3"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }
    static let conntrack = ["/usr/sbin/conntrack", "/sbin/conntrack", "/usr/bin/conntrack"].first {
        FileManager.default.isExecutableFile(atPath: $0)
    }

    static var unavailableReason: String? {
        if let reason = ScratchNetns.unavailableReason { return reason }
        if python == nil { return "python3 is not installed (it sends the test datagrams)" }
        if conntrack == nil { return "conntrack is not installed" }
        return nil
    }

    static let node = NodeConfig(
        nodeName: "node1",
        nodeIPs: [IPAddress("192.168.0.2")!],
        clusterCIDRs: [CIDR("10.0.0.0/8")!]
    )

    /// Upstream's masquerade matrix cluster over UDP, plus a Service without endpoints and one with affinity.
    static func ruleset() -> Ruleset {
        var synthesizer = RuleSynthesizer(node: node)
        func port(_ service: String, _ clusterIP: String, configure: (inout ServicePortInfo) -> Void) -> ServicePortInfo
        {
            var info = ServicePortInfo(
                name: ServicePortName(namespace: "ns", name: service, port: "dns", protocol: .udp),
                port: 80,
                clusterIPs: [IPAddress(clusterIP)!]
            )
            configure(&info)
            return info
        }
        func endpoints(_ local: String, _ remote: String) -> [ServiceEndpoint] {
            [
                ServiceEndpoint(address: IPAddress(local)!, port: 5353, ready: true, nodeName: "node1"),
                ServiceEndpoint(address: IPAddress(remote)!, port: 5353, ready: true, nodeName: "node2"),
            ]
        }
        synthesizer.update(
            port("svc1", "172.30.0.41") {
                $0.type = .loadBalancer
                $0.nodePort = 3001
                $0.loadBalancerIPs = [IPAddress("1.2.3.4")!]
            },
            endpoints: endpoints("10.180.0.1", "10.180.1.1")
        )
        synthesizer.update(
            port("svc2", "172.30.0.42") {
                $0.type = .loadBalancer
                $0.nodePort = 3002
                $0.loadBalancerIPs = [IPAddress("5.6.7.8")!]
                $0.externalPolicyLocal = true
                $0.healthCheckNodePort = 30002
            },
            endpoints: endpoints("10.180.0.2", "10.180.1.2")
        )
        synthesizer.update(
            port("svc3", "172.30.0.43") {
                $0.type = .nodePort
                $0.nodePort = 3003
            },
            endpoints: []
        )
        synthesizer.update(
            port("svc4", "172.30.0.44") { $0.sessionAffinityTimeout = 600 },
            endpoints: endpoints("10.180.0.4", "10.180.1.4")
        )
        return synthesizer.ruleset
    }

    /// Sends `count` datagrams from `source` (each from a fresh socket, so a fresh source port) to `destination`.
    static func send(
        in netns: ScratchNetns,
        from source: String,
        to destination: String,
        port: UInt16,
        count: Int
    )
        throws
    {
        let script = """
            import socket, sys
            for _ in range(int(sys.argv[4])):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                s.bind((sys.argv[1], 0))
                s.sendto(b"x", (sys.argv[2], int(sys.argv[3])))
                s.close()
            """
        try netns.exec([python!, "-c", script, source, destination, String(port), String(count)])
    }

    /// What conntrack saw: the DNAT targets (or ACCEPT for connections without DNAT), and whether any was
    /// source-NATed. No entries at all means the packets were dropped or rejected before postrouting.
    static func observed(in netns: ScratchNetns) throws -> (labels: Set<String>, masqueraded: Bool) {
        var labels: Set<String> = []
        for line in try netns.exec([conntrack!, "-L", "-p", "udp"]).split(separator: "\n") where line.hasPrefix("udp") {
            let fields = line.split(separator: " ")
            let values = { (key: String) in
                fields.filter { $0.hasPrefix(key + "=") }.map { $0.dropFirst(key.count + 1) }
            }
            let (sources, destinations, sourcePorts) = (values("src"), values("dst"), values("sport"))
            guard sources.count == 2, destinations.count == 2, sourcePorts.count == 2 else { continue }
            labels.insert(sources[1] == destinations[0] ? "ACCEPT" : "\(sources[1]):\(sourcePorts[1])")
        }
        let natted = try netns.exec([conntrack!, "-L", "-p", "udp", "--src-nat"]).split(separator: "\n")
        return (labels, natted.contains { $0.hasPrefix("udp") })
    }

    @Test("the tracer's endpoints and masquerade match what the kernel does")
    func tracerMatchesKernel() throws {
        try #require(Self.unavailableReason == nil, "skipped: \(Self.unavailableReason ?? "")")
        let node = try ScratchNetns(area: "tracer")
        defer { node.delete() }
        let client = try ScratchNetns(area: "tracer")
        defer { client.delete() }
        for command in [
            "link set lo up", "link add kpt-d0 type veth peer name kpt-ds netns \(client.name)", "link set kpt-d0 up",
            "addr add 192.168.0.2/24 dev kpt-d0",
            "route add 10.180.0.0/16 dev kpt-d0", "route add default dev kpt-d0",
            "link add kpt-vn type veth peer name kpt-vc netns \(client.name)", "addr add 10.0.0.1/24 dev kpt-vn",
            "addr add 203.0.113.1/24 dev kpt-vn", "link set kpt-vn up",
        ] {
            try node.ip(command)
        }
        for command in [
            "link set lo up", "addr add 10.0.0.2/24 dev kpt-vc", "addr add 203.0.113.2/24 dev kpt-vc",
            "link set kpt-vc up", "link set kpt-ds up", "route add default via 10.0.0.1",
        ] {
            try client.ip(command)
        }
        try node.exec(["/usr/sbin/sysctl", "-q", "-w", "net.ipv4.ip_forward=1"])

        let ruleset = Self.ruleset()
        try node.apply(SyncPlanner.fullSync(ruleset).render())
        let tracer = try Tracer(ruleset: ruleset, localAddresses: [IPAddress("192.168.0.2")!])

        let flows: [(String, String, UInt16)] = [
            ("10.0.0.2", "172.30.0.41", 80), ("10.0.0.2", "192.168.0.2", 3001), ("10.0.0.2", "1.2.3.4", 80),
            ("203.0.113.2", "172.30.0.41", 80), ("203.0.113.2", "192.168.0.2", 3001), ("203.0.113.2", "1.2.3.4", 80),
            ("10.0.0.2", "5.6.7.8", 80), ("203.0.113.2", "5.6.7.8", 80), ("203.0.113.2", "192.168.0.2", 3002),
            ("192.168.0.2", "172.30.0.41", 80), ("192.168.0.2", "5.6.7.8", 80), ("192.168.0.2", "192.168.0.2", 3001),
            ("10.0.0.2", "172.30.0.43", 80), ("203.0.113.2", "192.168.0.2", 3003), ("10.0.0.2", "172.30.0.41", 81),
            ("203.0.113.2", "8.8.8.8", 53), ("10.0.0.2", "172.30.0.44", 80),
        ]
        for (source, destination, port) in flows {
            let fromNode = source == "192.168.0.2"
            let packet = Tracer.Packet(
                source: IPAddress(source)!,
                destination: IPAddress(destination)!,
                protocol: .udp,
                destinationPort: port,
                origin: fromNode ? .local : .inbound(interface: "kpt-vn"),
                outputInterface: "kpt-d0"
            )
            let trace = try tracer.trace(packet)
            try node.exec([Self.conntrack!, "-F"])
            try Self.send(in: fromNode ? node : client, from: source, to: destination, port: port, count: 32)
            let (labels, masqueraded) = try Self.observed(in: node)

            let accepted = trace.paths.filter(\.disposition.isAccepted)
            let expected = Set(accepted.map { $0.dnat?.description ?? "ACCEPT" })
            if trace.paths.contains(where: { !$0.learned.isEmpty }) {
                // Affinity: the first datagram picks an endpoint and the client sticks to it.
                #expect(labels.count == 1 && labels.isSubset(of: expected), "\(packet): kernel \(labels)\n\(trace)")
            } else {
                #expect(labels == expected, "\(packet): kernel \(labels)\n\(trace)")
            }
            #expect(masqueraded == (trace.masqueraded ?? true), "\(packet): kernel masquerade \(masqueraded)\n\(trace)")
        }
    }
}

extension ScratchNetns {
    /// Runs a command inside the namespace and returns its output; throws when it fails.
    @discardableResult
    func exec(_ command: [String]) throws -> String {
        let (status, output) = try Self.run(Self.ip!, ["netns", "exec", name] + command)
        guard status == 0 else { throw NetnsError(message: "\(command.joined(separator: " ")): \(output)") }
        return output
    }

    func ip(_ arguments: String) throws {
        let (status, output) = try Self.run(Self.ip!, ["-n", name] + arguments.split(separator: " ").map(String.init))
        guard status == 0 else { throw NetnsError(message: "ip -n \(name) \(arguments): \(output)") }
    }
}
