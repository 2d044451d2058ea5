import ClusterDNS
import ClusterModel
import Daemon
import Foundation
import KubeModel
import Logging
import Testing

@Suite("Cluster DNS service")
struct ClusterDNSServiceTests {
    /// A DNS-only configuration on an ephemeral loopback port, with no upstreams to probe.
    static func configuration() -> Configuration {
        var configuration = Configuration()
        configuration.dns.listen = [HostPort(host: "127.0.0.1", port: 0)]
        configuration.dns.resolvConf = "/dev/null"
        return configuration
    }

    func answer(_ responder: ClusterResponder, _ name: String) async throws -> Message? {
        let query = Message.query(id: 1, name: try DNSName(name), type: .a)
        return await responder.respond(to: query, from: IPAddress("127.0.0.1")!, transport: .udp)
    }

    @Test func changeSetsReachTheZoneInTheBackgroundAndNoneIsLost() async throws {
        let dns = try ClusterDNSService(configuration: Self.configuration(), logger: Logger(label: "test"))
        let task = Task { try await dns.run() }
        defer { task.cancel() }

        // Before the sources have synced, the zone stays empty: in-zone queries get SERVFAIL.
        var state = ClusterState(nodeName: "node-a")
        state.apply([SyncLoopTests.service("a", ip: "10.96.0.1")])
        dns.observe(state.snapshot, changes: state.takeChanges(), synced: false)
        #expect(try await answer(dns.responder, "a.demo.svc.cluster.local")?.rcode == .serverFailure)

        // A burst of change sets, observed without waiting, all end up answered.
        dns.observe(state.snapshot, changes: ChangeSet(), synced: true)
        for (name, ip) in [("b", "10.96.0.2"), ("c", "10.96.0.3"), ("d", "10.96.0.4")] {
            state.apply([SyncLoopTests.service(name, ip: ip)])
            dns.observe(state.snapshot, changes: state.takeChanges(), synced: true)
        }
        var answered: [String] = []
        for _ in 0..<200 {
            answered = []
            for name in ["a", "b", "c", "d"] {
                if case .a(let address)? = try await answer(dns.responder, "\(name).demo.svc.cluster.local")?
                    .answers.first?.data
                {
                    answered.append(address.description)
                }
            }
            if answered.count == 4 { break }
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(answered == ["10.96.0.1", "10.96.0.2", "10.96.0.3", "10.96.0.4"])
    }
}
