import ClusterDNS
import ClusterModel
import KubeModel
import Testing

@Suite("Zone index: incremental updates equal a fresh build")
struct ZoneIndexTests {
    /// A deterministic generator, so a failure names a reproducible seed.
    struct SplitMix: RandomNumberGenerator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
    }

    static func randomEvent(_ rng: inout SplitMix) -> ClusterEvent {
        let names = ["a", "b", "c", "d"]
        let namespaces = ["x", "y"]
        let name = names.randomElement(using: &rng)!
        let namespace = namespaces.randomElement(using: &rng)!
        let host = UInt32.random(in: 1...6, using: &rng)
        switch Int.random(in: 0..<8, using: &rng) {
        case 0:
            return .delete(.service, ObjectKey(namespace: namespace, name: name))
        case 1:
            return ZoneFixture.service(
                name, namespace: namespace, headless: true, ports: [ServicePort(name: "p", port: 7)],
                publishNotReady: Bool.random(using: &rng))
        case 2:
            return ZoneFixture.service(name, namespace: namespace, externalName: "\(name).example.org")
        case 3, 4:
            return ZoneFixture.slice(
                "\(name)-\(Int.random(in: 0..<2, using: &rng))", service: name, namespace: namespace,
                ports: [.init(name: "p", port: 7)],
                endpoints: (0..<Int.random(in: 0..<4, using: &rng)).map { offset in
                    .init(
                        addresses: ["10.1.\(host).\(offset + 1)"], ready: Bool.random(using: &rng),
                        hostname: Bool.random(using: &rng) ? "h\(offset)" : nil)
                })
        case 5:
            return .delete(.endpointSlice, ObjectKey(namespace: namespace, name: "\(name)-0"))
        case 6:
            return ZoneFixture.pod("p\(host)", namespace: namespace, ips: ["10.2.0.\(host)"])
        default:
            return ZoneFixture.service(
                name, namespace: namespace, ips: ["10.96.0.\(host)"], ports: [ServicePort(name: "p", port: 7)])
        }
    }

    @Test(arguments: [1, 2, 3, 4, 5, 6, 7, 8] as [UInt64])
    func incrementalIndexEqualsRebuiltIndex(seed: UInt64) {
        var rng = SplitMix(state: seed)
        var state = ClusterState(nodeName: "node-a")
        var index = ZoneIndex(config: ZoneConfig(), snapshot: state.snapshot)
        for step in 0..<300 {
            state.apply(Self.randomEvent(&rng))
            index.update(to: state.snapshot, changes: state.takeChanges())
            if step % 10 == 0 || step == 299 {
                #expect(index == ZoneIndex(config: ZoneConfig(), snapshot: state.snapshot), "seed \(seed) step \(step)")
            }
        }
        // Deleting everything leaves exactly the fixed names.
        for key in state.snapshot.services.keys {
            state.apply(.delete(.service, ObjectKey(namespace: key.namespace, name: key.name)))
        }
        for key in state.snapshot.pods.keys { state.apply(.delete(.pod, key)) }
        index.update(to: state.snapshot, changes: state.takeChanges())
        #expect(index == ZoneIndex(config: ZoneConfig()))
    }

    @Test func updatesAnswerTheNewState() throws {
        var state = ZoneFixture.state()
        _ = state.takeChanges()
        var index = ZoneIndex(config: ZoneConfig(), snapshot: state.snapshot)
        let serial = index.serial
        state.apply(.delete(.service, ObjectKey(namespace: "demo", name: "web")))
        index.update(to: state.snapshot, changes: state.takeChanges())
        #expect(try #require(index.ask("web.demo.svc.cluster.local", .a)).rcode == .nameError)
        #expect(try #require(index.ask("_tcp.web.demo.svc.cluster.local", .a)).rcode == .nameError)
        #expect(index.serial != serial)
        state.apply(ZoneFixture.service("web", ips: ["10.96.100.11"], ports: [ZoneFixture.http]))
        index.update(to: state.snapshot, changes: state.takeChanges())
        #expect(
            try #require(index.ask("web.demo.svc.cluster.local", .a)).answerLines == [
                "web.demo.svc.cluster.local. A 10.96.100.11"
            ])
    }

    @Test func respondsWithSERVFAILBeforeTheFirstSync() async throws {
        let responder = ClusterResponder(config: ZoneConfig())
        let client = IPAddress("10.244.1.50")!
        let early = await responder.respond(
            to: .query(id: 3, name: n("web.demo.svc.cluster.local"), type: .a), from: client, transport: .udp)
        #expect(early?.rcode == .serverFailure)
        #expect(
            await responder.respond(to: .query(id: 3, name: n("example.com"), type: .a), from: client, transport: .udp)
                == nil)
        responder.update(to: ZoneFixture.state().snapshot, changes: ChangeSet())
        let synced = await responder.respond(
            to: .query(id: 3, name: n("web.demo.svc.cluster.local"), type: .a), from: client, transport: .udp)
        #expect(synced?.answers.count == 1)
    }
}
