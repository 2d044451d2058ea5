import ClusterModel
import Daemon
import KubeModel
import Testing

@Suite("Stale UDP flow filter")
struct StaleFlowFilterTests {
    static func ip(_ text: String) -> IPAddress { IPAddress(text)! }

    func state() -> ClusterState {
        var state = ClusterState(nodeName: "n")
        let dns = Service(
            metadata: ObjectMeta(name: "dns", namespace: "k"),
            spec: ServiceSpec(type: .nodePort, clusterIPs: [Self.ip("10.96.0.10")],
                              ports: [ServicePort(name: "dns", protocol: .udp, port: 53, nodePort: 30053),
                                      ServicePort(name: "tcp", protocol: .tcp, port: 53)],
                              externalIPs: [Self.ip("198.51.100.1")]))
        let slice = EndpointSlice(
            metadata: ObjectMeta(name: "dns-1", namespace: "k", labels: [EndpointSlice.serviceNameLabel: "dns"]),
            addressType: .ipv4,
            endpoints: [.init(addresses: ["10.244.1.2"]), .init(addresses: ["10.244.1.3"], ready: false, serving: true, terminating: true),
                        .init(addresses: ["10.244.1.4"], ready: false)],
            ports: [.init(name: "dns", protocol: .udp, port: 5353), .init(name: "tcp", protocol: .tcp, port: 5353)])
        state.apply([.upsert(.service(dns)), .upsert(.endpointSlice(slice))])
        return state
    }

    @Test func flowsToServingEndpointsStay() {
        let filter = StaleFlowFilter(snapshot: state().snapshot)
        #expect(!filter.isStale(originalDestination: Self.ip("10.96.0.10"), port: 53, replySource: Self.ip("10.244.1.2")))
        #expect(!filter.isStale(originalDestination: Self.ip("10.96.0.10"), port: 53, replySource: Self.ip("10.244.1.3")),
                "a terminating endpoint that still serves keeps its flows")
    }

    @Test func flowsToGoneOrUnservingEndpointsAreStale() {
        let filter = StaleFlowFilter(snapshot: state().snapshot)
        #expect(filter.isStale(originalDestination: Self.ip("10.96.0.10"), port: 53, replySource: Self.ip("10.244.1.4")))
        #expect(filter.isStale(originalDestination: Self.ip("10.96.0.10"), port: 53, replySource: Self.ip("10.244.9.9")))
        #expect(filter.isStale(originalDestination: Self.ip("198.51.100.1"), port: 53, replySource: Self.ip("10.244.9.9")))
        #expect(filter.isStale(originalDestination: Self.ip("10.0.0.11"), port: 30053, replySource: Self.ip("10.244.9.9")))
    }

    @Test func otherTrafficIsNeverTouched() {
        let filter = StaleFlowFilter(snapshot: state().snapshot)
        #expect(!filter.isStale(originalDestination: Self.ip("10.96.0.10"), port: 54, replySource: Self.ip("1.2.3.4")))
        #expect(!filter.isStale(originalDestination: Self.ip("8.8.8.8"), port: 53, replySource: Self.ip("8.8.8.8")))
    }

    @Test func aServiceThatLostAllEndpointsClearsItsFlows() {
        var state = state()
        state.apply(.delete(.endpointSlice, ObjectKey(namespace: "k", name: "dns-1")))
        let filter = StaleFlowFilter(snapshot: state.snapshot)
        #expect(filter.isStale(originalDestination: Self.ip("10.96.0.10"), port: 53, replySource: Self.ip("10.244.1.2")))
    }
}
