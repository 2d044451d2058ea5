import ClusterModel
import Daemon
import Foundation
import KubeModel
import Logging
import NIOPosix
import Testing

@Suite("healthCheckNodePort servers")
struct ServiceHealthTests {
    static let demo = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("deploy/examples/demo-cluster").path

    func snapshot(node: String) throws -> ClusterSnapshot {
        var state = ClusterState(nodeName: node)
        state.apply(try ManifestLoader.load(directory: Self.demo).events)
        return state.snapshot
    }

    @Test func demoLoadBalancerCountsLocalEndpointsPerNode() throws {
        let onA = ServiceHealthCheck.desired(in: try snapshot(node: "node-a"))
        #expect(onA == [32000: ServiceHealthCheck(service: ServiceKey(namespace: "demo", name: "lb-local"), localEndpoints: 2)])
        let onB = ServiceHealthCheck.desired(in: try snapshot(node: "node-b"))
        #expect(onB[32000]?.localEndpoints == 0)
        #expect(onB[32000]!.response(proxyHealthy: true).status == .serviceUnavailable)
        #expect(onA[32000]!.response(proxyHealthy: false).status == .serviceUnavailable)
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "needs curl"))
    func serversOpenAndCloseWithTheirServices() async throws {
        let servers = ServiceHealthServers(host: "127.0.0.1", group: MultiThreadedEventLoopGroup.singleton, logger: Logger(label: "t"))
        let port = UInt16.random(in: 40000...50000)
        let key = ServiceKey(namespace: "demo", name: "lb")
        await servers.update([port: ServiceHealthCheck(service: key, localEndpoints: 3)], proxyHealthy: true)
        let (status, body) = try HTTPStatusServerTests.curl("http://127.0.0.1:\(port)/")
        #expect(status == 200)
        let json = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any]
        #expect(json?["localEndpoints"] as? Int == 3)
        #expect((json?["service"] as? [String: String])?["name"] == "lb")

        await servers.update([port: ServiceHealthCheck(service: key, localEndpoints: 0)], proxyHealthy: true)
        #expect(try HTTPStatusServerTests.curl("http://127.0.0.1:\(port)/").0 == 503)
        await servers.update([:], proxyHealthy: true)
        #expect(await servers.openPorts.isEmpty)
        #expect(try HTTPStatusServerTests.curl("http://127.0.0.1:\(port)/").0 == 0)
    }
}
