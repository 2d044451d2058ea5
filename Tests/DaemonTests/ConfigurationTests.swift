import Daemon
import Foundation
import KubeModel
import Testing

@Suite("Configuration file")
struct ConfigurationTests {
    static let deploy = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("deploy")

    @Test func shippedSampleParses() throws {
        let config = try Configuration.load(file: Self.deploy.appendingPathComponent("systemd/config.yaml").path)
        #expect(config.kubeconfig == "/etc/kproxy/kubeconfig")
        #expect(config.healthzBindAddress == HostPort(host: "0.0.0.0", port: 10256))
        #expect(config.clusterCIDRs.map(\.description) == ["10.244.0.0/16", "fd00:10:244::/56"])
        #expect(config.nodePortAddresses == [.primary])
        #expect(config.masqueradeMark == 0x4000)
        #expect(config.syncPeriod == .seconds(30) && config.minSyncPeriod == .seconds(1))
        #expect(config.conntrack.tcpEstablishedTimeout == .seconds(86400))
        #expect(config.dns.listen == [HostPort(host: "169.254.20.10", port: 53)])
        #expect(config.dns.podRecords == .insecure)
    }

    @Test func demoConfigParses() throws {
        let config = try Configuration.load(file: Self.deploy.appendingPathComponent("examples/demo-config.yaml").path)
        #expect(config.hostnameOverride == "node-a")
        #expect(config.dns.listen == [HostPort(host: "127.0.0.1", port: 5353)])
        #expect(config.nodePortAddresses.count == 2)
    }

    @Test func everyProblemIsReportedWithItsFieldPath() {
        let text = """
            apiVersion: kubeproxy.config.k8s.io/v1alpha1
            kind: KubeProxyConfiguration
            clusterCIDR: 10.244.0.0/16,not-a-cidr
            healthzBindAddress: nowhere
            mode: iptables
            nftables:
              masqueradeBit: 40
              syncPeriod: 30 seconds
            dns:
              zone: ""
              ttl: -1
              listen: ["127.0.0.1:99999"]
              podRecord: verified
            iptables: {masqueradeAll: true}
            """
        #expect(throws: ConfigurationError.self) { try Configuration.parse(text, file: "c.yaml") }
        do {
            _ = try Configuration.parse(text, file: "c.yaml")
        } catch {
            #expect(error.problems == [
                "healthzBindAddress: \"nowhere\" is not host:port",
                "clusterCIDR[1]: \"not-a-cidr\" is not a valid CIDR",
                "mode: \"iptables\" is not supported: kproxy only programs nftables",
                "nftables.masqueradeBit: 40 is not between 0 and 31",
                "nftables.syncPeriod: \"30 seconds\" is not a duration like 30s, 1m or 1h0m0s",
                "dns.podRecord: is not a known field (known: cacheSize, listen, podRecords, recursionAllowedCIDRs, resolvConf, serverSideSearch, ttl, upstreams, zone)",
                "dns.zone: \"\" is not a valid domain name",
                "dns.listen[0]: \"127.0.0.1:99999\" is not IP:port",
                "dns.ttl: -1 is not between 0 and 86400",
            ])
            #expect(error.description.hasPrefix("invalid configuration in c.yaml:"))
        }
    }

    @Test func brokenYAMLAndWrongShapes() {
        #expect(throws: ConfigurationError.self) { try Configuration.parse("a: [", file: "x") }
        #expect(throws: ConfigurationError.self) { try Configuration.parse("- just\n- a list\n", file: "x") }
        #expect(throws: ConfigurationError.self) { try Configuration.parse("nodePortAddresses: {a: b}\n", file: "x") }
    }

    @Test func emptyFileMeansDefaults() throws {
        let config = try Configuration.parse("kind: KubeProxyConfiguration\n", file: "x")
        #expect(config == Configuration())
    }

    @Test func hostPortForms() {
        #expect(HostPort("[::1]:53") == HostPort(host: "::1", port: 53))
        #expect(HostPort("10.0.0.1", defaultPort: 53) == HostPort(host: "10.0.0.1", port: 53))
        #expect(HostPort("fd00::1", defaultPort: 53) == HostPort(host: "fd00::1", port: 53))
        #expect(HostPort("::1:53") == nil)
        #expect(HostPort("host:") == nil)
        #expect(HostPort("[::1]:53").map(\.description) == "[::1]:53")
    }
}
