import KubeModel
import Logging
import Synchronization
import Testing

@testable import ClusterDNS

/// Upstreams scripted per address: answer, fail, hang, or answer truncated over UDP.
final class ScriptedExchanger: UpstreamExchanger {
    enum Behaviour: Sendable {
        case answer(IPAddress)
        case refuse
        case hang
        case truncatedOverUDP(IPAddress)
        case slowAnswer(IPAddress, Duration)
    }

    let behaviours: Mutex<[Upstream: Behaviour]>
    let log = Mutex<[(Upstream, Transport)]>([])

    init(_ behaviours: [Upstream: Behaviour]) { self.behaviours = Mutex(behaviours) }

    func set(_ upstream: Upstream, to behaviour: Behaviour) { behaviours.withLock { $0[upstream] = behaviour } }

    var calls: [(Upstream, Transport)] { log.withLock { $0 } }

    func exchange(
        _ query: [UInt8],
        with upstream: Upstream,
        over transport: Transport,
        timeout: Duration
    ) async throws
        -> [UInt8]
    {
        log.withLock { $0.append((upstream, transport)) }
        let message = try Message(decoding: query)
        switch behaviours.withLock({ $0[upstream] }) ?? .refuse {
        case .refuse:
            throw UpstreamClosed()
        case .hang:
            try await Task.sleep(for: timeout)
            throw UpstreamTimeout()
        case .answer(let address):
            return Self.reply(to: message, address: address, truncated: false)
        case .slowAnswer(let address, let delay):
            try await Task.sleep(for: delay)
            return Self.reply(to: message, address: address, truncated: false)
        case .truncatedOverUDP(let address):
            return Self.reply(to: message, address: address, truncated: transport == .udp)
        }
    }

    static func reply(to query: Message, address: IPAddress, truncated: Bool) -> [UInt8] {
        var reply = query.makeResponse()
        reply.recursionAvailable = true
        reply.isTruncated = truncated
        if !truncated { reply.answers = [ResourceRecord(name: query.questions[0].name, ttl: 30, data: .a(address))] }
        return reply.encoded()
    }
}

@Suite struct ForwarderTests {
    let first = Upstream("192.0.2.1")!
    let second = Upstream("192.0.2.2:5300")!
    let logger = Logger(label: "test")
    let query = Message.query(id: 77, name: try! DNSName("www.example.net"), type: .a)

    func forwarder(
        _ exchanger: ScriptedExchanger,
        timeout: Duration = .milliseconds(200),
        total: Duration = .seconds(1)
    )
        -> Forwarder<ScriptedExchanger>
    {
        Forwarder(
            configuration: .init(
                upstreams: [first, second],
                perUpstreamTimeout: timeout,
                totalTimeout: total,
                maxFails: 1
            ),
            exchanger: exchanger,
            logger: logger
        )
    }

    @Test func failsOverToTheNextUpstreamAndMarksTheFirstDown() async throws {
        let exchanger = ScriptedExchanger([first: .refuse, second: .answer(IPAddress("192.0.2.53")!)])
        let forwarder = forwarder(exchanger)
        let reply = try await forwarder.forward(query)
        #expect(reply.id == 77)
        #expect(reply.answers.first?.data == .a(IPAddress("192.0.2.53")!))
        #expect(forwarder.upstreamHealth.map(\.1) == [false, true])
        // The down upstream now goes last: the next query asks the second first.
        _ = try await forwarder.forward(query)
        #expect(exchanger.calls.map(\.0) == [first, second, second])
    }

    @Test func allUpstreamsDeadFailsWithinTheTotalTimeout() async throws {
        let exchanger = ScriptedExchanger([first: .hang, second: .hang])
        let forwarder = forwarder(exchanger, timeout: .milliseconds(300), total: .milliseconds(400))
        let clock = ContinuousClock()
        let elapsed = await clock.measure {
            await #expect(throws: Forwarder<ScriptedExchanger>.Failure.allUpstreamsFailed) {
                try await forwarder.forward(query)
            }
        }
        #expect(elapsed < .milliseconds(700))
        #expect(exchanger.calls.count == 2)
    }

    @Test func retriesOverTCPWhenTruncated() async throws {
        let exchanger = ScriptedExchanger([first: .truncatedOverUDP(IPAddress("192.0.2.9")!)])
        let reply = try await forwarder(exchanger).forward(query)
        #expect(!reply.isTruncated && reply.answers.count == 1)
        #expect(exchanger.calls.map(\.1) == [.udp, .tcp])
    }

    @Test func refusesWhenTooManyQueriesAreInFlight() async throws {
        let exchanger = ScriptedExchanger([first: .hang, second: .hang])
        let forwarder = Forwarder(
            configuration: .init(
                upstreams: [first],
                perUpstreamTimeout: .milliseconds(300),
                totalTimeout: .milliseconds(300),
                maxConcurrent: 1
            ),
            exchanger: exchanger,
            logger: logger
        )
        async let slow: Message? = try? forwarder.forward(query)
        while exchanger.calls.isEmpty { try await Task.sleep(for: .milliseconds(5)) }
        await #expect(throws: Forwarder<ScriptedExchanger>.Failure.tooManyConcurrent) {
            try await forwarder.forward(query)
        }
        _ = await slow
    }

    @Test func healthCheckBringsAnUpstreamBack() async throws {
        let exchanger = ScriptedExchanger([first: .refuse, second: .answer(IPAddress("192.0.2.53")!)])
        let forwarder = Forwarder(
            configuration: .init(upstreams: [first, second], maxFails: 1, healthCheckInterval: .milliseconds(20)),
            exchanger: exchanger,
            logger: logger
        )
        _ = try await forwarder.forward(query)
        #expect(forwarder.upstreamHealth.map(\.1) == [false, true])
        exchanger.set(first, to: .answer(IPAddress("192.0.2.1")!))
        let checker = Task { await forwarder.runHealthChecks() }
        defer { checker.cancel() }
        // Polled, as the checker's 20 ms rounds may be slow on a loaded machine.
        let deadline = ContinuousClock.now + .seconds(5)
        while forwarder.upstreamHealth.map(\.1) != [true, true] && ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(forwarder.upstreamHealth.map(\.1) == [true, true])
        // The probe was `. NS` to the first upstream; no client query was needed.
        #expect(exchanger.calls.filter { $0.0 == first }.count >= 2)
    }

    @Test func responderRefusesOutsideTheACLAndCachesInside() async throws {
        let exchanger = ScriptedExchanger([first: .answer(IPAddress("192.0.2.53")!)])
        let responder = ForwardingResponder(
            forwarder: forwarder(exchanger),
            allowedClients: ForwardingResponder<ScriptedExchanger>.loopback + [CIDR("10.244.0.0/16")!]
        )
        let outsider = await responder.respond(to: query, from: IPAddress("192.168.1.9")!, transport: .udp)
        #expect(outsider?.rcode == .refused)
        #expect(exchanger.calls.isEmpty)
        let pod = try #require(await responder.respond(to: query, from: IPAddress("10.244.1.5")!, transport: .udp))
        #expect(pod.rcode == .noError && pod.recursionAvailable && pod.answers.count == 1)
        let cached = try #require(await responder.respond(to: query, from: IPAddress("::1")!, transport: .udp))
        #expect(cached.answers == pod.answers)
        #expect(exchanger.calls.count == 1)
        #expect(responder.cachedEntries == 1)
    }

    @Test func identicalMissesShareOneUpstreamQuery() async throws {
        let exchanger = ScriptedExchanger([first: .slowAnswer(IPAddress("192.0.2.53")!, .milliseconds(200))])
        let responder = ForwardingResponder(
            forwarder: forwarder(exchanger, timeout: .seconds(1)),
            allowedClients: ForwardingResponder<ScriptedExchanger>.loopback
        )
        let spellings = ["www.example.net", "WWW.example.net", "www.EXAMPLE.net", "Www.Example.Net"]
        let replies = await withTaskGroup(of: (String, Message?).self) { group in
            for (index, spelling) in spellings.enumerated() {
                group.addTask {
                    let query = Message.query(id: UInt16(index), name: try! DNSName(spelling), type: .a)
                    return (spelling, await responder.respond(to: query, from: IPAddress("::1")!, transport: .udp))
                }
            }
            return await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        #expect(exchanger.calls.count == 1)
        for spelling in spellings {
            let reply = try #require(replies[spelling] ?? nil)
            #expect(reply.answers.first?.name.description == spelling + ".")
            #expect(reply.answers.first?.data == .a(IPAddress("192.0.2.53")!))
        }
    }

    @Test func servfailWhenEveryUpstreamFails() async throws {
        let responder = ForwardingResponder(
            forwarder: forwarder(ScriptedExchanger([:])),
            allowedClients: ForwardingResponder<ScriptedExchanger>.loopback
        )
        let reply = await responder.respond(to: query, from: IPAddress("127.0.0.1")!, transport: .udp)
        #expect(reply?.rcode == .serverFailure)
    }

    @Test func upstreamsFromResolvConfSkipOurOwnAddress() {
        let nameservers = ["127.0.0.1", "169.254.20.10", "10.0.0.2", "10.0.0.2", "::1"].map { IPAddress($0)! }
        let upstreams = Upstream.fromNameservers(
            nameservers,
            excluding: [Upstream("169.254.20.10:53")!, Upstream("[::]:53")!]
        )
        #expect(upstreams == [Upstream("127.0.0.1")!, Upstream("10.0.0.2")!])
        #expect(Upstream("[fd00::1]:5353")?.description == "[fd00::1]:5353")
        #expect(Upstream("1.2.3.4:99999") == nil)
    }
}
