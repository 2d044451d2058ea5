import ClusterModel
import KubeModel
import Testing
@testable import RuleSynth

@Suite("Chain names")
struct ChainNameTests {
    @Test("Hashes match kube-proxy's names from proxier_test.go")
    func upstreamHashes() {
        let svc1 = ServicePortName(namespace: "ns1", name: "svc1", port: "p80", protocol: .tcp)
        #expect(ServiceFragment.Names(svc1).cluster == "service-ULMVA6XW-ns1/svc1/tcp/p80")
        let svc2 = ServicePortName(namespace: "ns2", name: "svc2", port: "p80", protocol: .tcp)
        #expect(ServiceFragment.Names(svc2).external == "external-42NFTM6N-ns2/svc2/tcp/p80")
        let svc5 = ServicePortName(namespace: "ns5", name: "svc5", port: "p80", protocol: .tcp)
        #expect(ServiceFragment.Names(svc5).firewall == "firewall-HVFWP5L3-ns5/svc5/tcp/p80")
        #expect(
            ChainNames.affinity(svc5, Fixtures.ep("10.180.0.3"))
                == "affinity-GTK6MW7G-ns5/svc5/tcp/p80__10.180.0.3/80")
        let kubernetes = ServicePortName(namespace: "default", name: "kubernetes", port: "https", protocol: .tcp)
        #expect(ServiceFragment.Names(kubernetes).cluster == "service-2QRHZV4L-default/kubernetes/tcp/https")
    }
}
