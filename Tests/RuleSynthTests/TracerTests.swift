import KubeModel
import RuleSynth
import Testing

/// The tracer's own semantics, on hand-built rulesets: hooks, verdicts, lookups, numgen, NAT and errors.
@Suite("Tracer: netfilter semantics over the Ruleset model")
struct TracerTests {
    static func host(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

    static let saddr = Expression.payload(base: .network, offset: 12, length: 4, dest: .r1)
    static let daddr = Expression.payload(base: .network, offset: 16, length: 4, dest: .r1)
    /// `ip daddr . meta l4proto . th dport`, loaded from register 1 on.
    static let destinationKey: [Expression] = [
        daddr, .meta(.l4proto, dest: .r32(1)), .payload(base: .transport, offset: 2, length: 2, dest: .r32(2)),
    ]

    static func verdict(_ verdict: Verdict) -> Expression { .immediate(.verdict(verdict), dest: .verdict) }

    static func dnat(_ address: String, _ port: UInt16) -> [Expression] {
        [
            .immediate(.value(ip(address).bytes), dest: .r1),
            .immediate(.value([UInt8(port >> 8), UInt8(port & 0xff)]), dest: .r2),
            .nat(NatSpec(kind: .dnat, family: 2, addressRegister: .r1, portRegister: .r2)),
        ]
    }

    static func table(_ chains: [Chain], sets: [NamedSet] = []) -> Ruleset {
        Ruleset(tables: [Table(family: .ip, name: "kproxy", chains: chains, sets: sets)])
    }

    static let prerouting = BaseChainSpec(type: .nat, hook: .prerouting, priority: -100)
    static let output = BaseChainSpec(type: .nat, hook: .output, priority: -100)
    static let postrouting = BaseChainSpec(type: .nat, hook: .postrouting, priority: 100)

    static func packet(
        _ source: String,
        _ destination: String,
        _ port: UInt16,
        from interface: String? = "eth0"
    )
        -> Tracer.Packet
    {
        Tracer.Packet(
            source: ip(source),
            destination: ip(destination),
            destinationPort: port,
            origin: interface.map { .inbound(interface: $0) } ?? .local
        )
    }

    @Test func probabilityCascadeGivesEveryEndpointAnEqualShare() throws {
        let count = 200
        var rules: [Rule] = []
        for index in 0..<count {
            let remaining = UInt32(count - index)
            var expressions: [Expression] = []
            if remaining > 1 {
                expressions += [
                    .numgen(.random, modulus: remaining, offset: 0, dest: .r1),
                    .cmp(.eq, source: .r1, data: Self.host(0)),
                ]
            }
            expressions += Self.dnat("10.180.\(index / 250).\(index % 250 + 1)", 8080)
            rules.append(Rule(expressions))
        }
        let ruleset = Self.table([
            Chain(name: "nat-prerouting", base: Self.prerouting, rules: [Rule([Self.verdict(.jump("svc"))])]),
            Chain(name: "svc", rules: rules),
        ])
        let trace = try Tracer(ruleset: ruleset, localAddresses: []).trace(Self.packet("10.0.0.2", "172.30.0.1", 80))
        #expect(trace.paths.count == count)
        #expect(trace.paths.allSatisfy { abs($0.probability - 1 / Double(count)) < 1e-9 })
        #expect(trace.paths.allSatisfy { $0.disposition == .forwarded })
    }

    @Test func numgenFeedingAMapForksOncePerValue() throws {
        let ruleset = Self.table(
            [
                Chain(
                    name: "nat-prerouting",
                    base: Self.prerouting,
                    rules: [
                        Rule([
                            .numgen(.random, modulus: 3, offset: 0, dest: .r1),
                            .lookup(set: "pick", source: .r1, dest: .verdict, invert: false),
                        ])
                    ]
                ),
                Chain(name: "ep0", rules: [Rule(Self.dnat("10.180.0.1", 80))]),
                Chain(name: "ep1", rules: [Rule(Self.dnat("10.180.0.2", 80))]),
                Chain(name: "ep2", rules: [Rule(Self.dnat("10.180.0.3", 80))]),
            ],
            sets: [
                NamedSet(
                    name: "pick",
                    key: [.mark],
                    data: [.verdict],
                    elements: (0..<3).map { SetElement(key: [.mark(UInt32($0))], data: .verdict(.goto("ep\($0)"))) }
                )
            ]
        )
        let trace = try Tracer(ruleset: ruleset, localAddresses: []).trace(Self.packet("10.0.0.2", "172.30.0.1", 80))
        #expect(trace.summary == "10.180.0.1:80, 10.180.0.2:80, 10.180.0.3:80")
        #expect(trace.paths.allSatisfy { abs($0.probability - 1.0 / 3) < 1e-9 })
    }

    @Test func verdictMapWithConcatenatedKeyAndIntervalSet() throws {
        let ruleset = Self.table(
            [
                Chain(
                    name: "nat-prerouting",
                    base: Self.prerouting,
                    rules: [
                        Rule(
                            Self.destinationKey + [
                                .lookup(set: "service-ips", source: .r1, dest: .verdict, invert: false)
                            ]
                        )
                    ]
                ),
                Chain(
                    name: "svc",
                    rules: [
                        Rule([
                            Self.saddr, .lookup(set: "pods", source: .r1, dest: nil, invert: true), Self.verdict(.drop),
                        ]),
                        Rule(Self.dnat("10.180.0.1", 80)),
                    ]
                ),
            ],
            sets: [
                NamedSet(
                    name: "service-ips",
                    key: [.ipv4Addr, .inetProto, .inetService],
                    data: [.verdict],
                    elements: [
                        SetElement(
                            key: [.address(ip("172.30.0.1")), .proto(.tcp), .port(80)],
                            data: .verdict(.goto("svc"))
                        )
                    ]
                ),
                NamedSet(
                    name: "pods",
                    key: [.ipv4Addr],
                    flags: .interval,
                    elements: [SetElement(key: [.prefix(cidr("10.0.0.0/8"))])]
                ),
            ]
        )
        let tracer = try Tracer(ruleset: ruleset, localAddresses: [])
        #expect(try tracer.trace(Self.packet("10.0.0.2", "172.30.0.1", 80)).summary == "10.180.0.1:80")
        #expect(try tracer.trace(Self.packet("11.0.0.2", "172.30.0.1", 80)).summary == "DROP")
        #expect(try tracer.trace(Self.packet("10.0.0.2", "172.30.0.1", 81)).summary == "ACCEPT")
        var udp = Self.packet("10.0.0.2", "172.30.0.1", 80)
        udp.protocol = .udp
        #expect(try tracer.trace(udp).summary == "ACCEPT")
    }

    @Test func gotoReturnsToTheCallerOfTheJump() throws {
        // base → jump a; a → goto b; b ends → back to base, whose next rule drops.
        let ruleset = Self.table([
            Chain(
                name: "filter",
                base: BaseChainSpec(type: .filter, hook: .prerouting, priority: 0),
                rules: [Rule([Self.verdict(.jump("a"))]), Rule([Self.verdict(.drop)], comment: "after jump")]
            ),
            Chain(name: "a", rules: [Rule([Self.verdict(.goto("b"))]), Rule([Self.verdict(.accept)])]),
            Chain(name: "b", rules: [Rule([.counter])]),
        ])
        let trace = try Tracer(ruleset: ruleset, localAddresses: []).trace(Self.packet("10.0.0.2", "10.0.0.3", 80))
        #expect(trace.summary == "DROP")
        #expect(trace.paths.first?.steps.last?.comment == "after jump")
    }

    @Test func basePolicyDropAndMasqueradeMark() throws {
        let mark: UInt32 = 0x4000
        let ruleset = Self.table([
            Chain(
                name: "nat-prerouting",
                base: Self.prerouting,
                rules: [
                    Rule(
                        [
                            .meta(.mark, dest: .r1),
                            .bitwise(source: .r1, dest: .r1, length: 4, mask: Self.host(~mark), xor: Self.host(mark)),
                            .metaSet(.mark, source: .r1),
                        ] + Self.dnat("10.180.0.1", 80)
                    )
                ]
            ),
            Chain(
                name: "nat-postrouting",
                base: Self.postrouting,
                rules: [
                    Rule([
                        .meta(.mark, dest: .r1),
                        .bitwise(source: .r1, dest: .r1, length: 4, mask: Self.host(mark), xor: Self.host(0)),
                        .cmp(.eq, source: .r1, data: Self.host(0)), Self.verdict(.return),
                    ]),
                    Rule([.masquerade(flags: NatSpec.protoRandomFully)]),
                ]
            ),
            Chain(
                name: "filter-input",
                base: BaseChainSpec(type: .filter, hook: .input, priority: 0, policy: .drop)
            ),
        ])
        let tracer = try Tracer(ruleset: ruleset, localAddresses: [ip("192.168.0.2")])
        let forwarded = try tracer.trace(Self.packet("203.0.113.2", "192.168.0.2", 3001))
        #expect(forwarded.summary == "10.180.0.1:80")
        #expect(forwarded.masqueraded == true)
        #expect(forwarded.paths.first?.disposition == .forwarded)
    }

    @Test func localTrafficToALocalAddressLoopsBackThroughInput() throws {
        let loopback = [UInt8]("lo".utf8) + [UInt8](repeating: 0, count: 14)
        let ruleset = Self.table([
            Chain(
                name: "filter-input",
                base: BaseChainSpec(type: .filter, hook: .input, priority: 0),
                rules: [
                    Rule([.meta(.iifname, dest: .r1), .cmp(.eq, source: .r1, data: loopback), Self.verdict(.drop)])
                ]
            ),
            Chain(
                name: "filter-output",
                base: BaseChainSpec(type: .filter, hook: .output, priority: 0),
                rules: [
                    Rule([
                        .fib(.saddr, result: .addrtype, dest: .r1), .cmp(.eq, source: .r1, data: Self.host(2)),
                        .counter,
                    ])
                ]
            ),
        ])
        let tracer = try Tracer(ruleset: ruleset, localAddresses: [ip("192.168.0.2")])
        let toSelf = try tracer.trace(Self.packet("192.168.0.2", "192.168.0.2", 22, from: nil))
        #expect(toSelf.summary == "DROP")
        #expect(toSelf.paths.first?.steps.map(\.chain) == ["filter-output", "filter-input"])
        let out = try tracer.trace(Self.packet("192.168.0.2", "1.1.1.1", 443, from: nil))
        #expect(out.paths.map(\.disposition) == [.sent])
    }

    @Test func dnatInOutputIsSeenByLaterChains() throws {
        let ruleset = Self.table([
            Chain(name: "nat-output", base: Self.output, rules: [Rule(Self.dnat("10.180.0.1", 8080))]),
            Chain(
                name: "filter-output",
                base: BaseChainSpec(type: .filter, hook: .output, priority: 0),
                rules: [
                    Rule([
                        .ct(.status, dest: .r1),
                        .bitwise(source: .r1, dest: .r1, length: 4, mask: Self.host(0x20), xor: Self.host(0)),
                        .cmp(.neq, source: .r1, data: Self.host(0)), Self.daddr,
                        .cmp(.eq, source: .r1, data: ip("10.180.0.1").bytes), .reject(.portUnreachable(.ip)),
                    ])
                ]
            ),
        ])
        let trace = try Tracer(ruleset: ruleset, localAddresses: [ip("192.168.0.2")])
            .trace(Self.packet("192.168.0.2", "172.30.0.1", 80, from: nil))
        #expect(trace.summary == "REJECT")
    }

    @Test func errorsNameWhatIsWrongInsteadOfTrapping() throws {
        let base = BaseChainSpec(type: .filter, hook: .prerouting, priority: 0)
        func error(_ rules: [Rule], chains: [Chain] = [], sets: [NamedSet] = []) -> TracerError? {
            do {
                _ = try Tracer(
                    ruleset: Self.table([Chain(name: "start", base: base, rules: rules)] + chains, sets: sets),
                    localAddresses: []
                )
                .trace(Self.packet("10.0.0.2", "10.0.0.3", 80))
                return nil
            } catch {
                return error
            }
        }
        #expect(
            error([Rule([Self.saddr, .lookup(set: "nope", source: .r1, dest: nil, invert: false)])])
                == .unknownSet(table: "kproxy", set: "nope", referencedFrom: "rule #0 of chain start")
        )
        #expect(
            error([Rule([Self.verdict(.jump("missing"))])])
                == .unknownChain(table: "kproxy", chain: "missing", referencedFrom: "chain start")
        )
        #expect(
            error(
                [Rule([Self.verdict(.jump("loop"))])],
                chains: [Chain(name: "loop", rules: [Rule([Self.verdict(.jump("loop"))])])]
            )
                == .jumpStackOverflow(table: "kproxy", chain: "loop")
        )
        #expect(
            error([Rule([.payload(base: .network, offset: 16, length: 4, dest: Register(number: 5)), .counter])]) != nil
        )
        #expect(error([Rule([.payload(base: .link, offset: 0, length: 6, dest: .r1)])]) != nil)
        #expect(error([Rule([.payload(base: .network, offset: 18, length: 4, dest: .r1)])]) != nil)
        #expect(error([Rule([.numgen(.random, modulus: 0, offset: 0, dest: .r1)])]) != nil)
        #expect(error([Rule([.masquerade(flags: 0)])]) != nil, "masquerade outside nat postrouting")
        #expect(
            error(
                [],
                sets: [NamedSet(name: "bad", key: [.ipv4Addr], elements: [SetElement(key: [.address(ip("::1"))])])]
            )
                == .badSet(table: "ip kproxy", set: "bad", reason: "element ::1: ::1 is not a value of type ipv4_addr")
        )
    }

    @Test func packetsParseFromTheCommandLine() throws {
        let local: Set<IPAddress> = [ip("192.168.0.2")]
        let plain = try Tracer.Packet(parsing: "tcp 10.0.0.5 -> 10.96.0.10:80", localAddresses: local)
        #expect(plain.destinationPort == 80 && plain.origin == .inbound(interface: "eth0") && plain.protocol == .tcp)
        let fromNode = try Tracer.Packet(parsing: "udp 192.168.0.2:5000 -> 10.96.0.10:53", localAddresses: local)
        #expect(fromNode.origin == .local && fromNode.sourcePort == 5000 && fromNode.protocol == .udp)
        let v6 = try Tracer.Packet(parsing: "sctp [fd00::5]:9 -> [fd00:96::a]:53 from cni0", localAddresses: local)
        #expect(v6.destination == ip("fd00:96::a") && v6.origin == .inbound(interface: "cni0") && v6.sourcePort == 9)
        for bad in [
            "tcp 10.0.0.5 -> 10.96.0.10", "icmp 10.0.0.5 -> 10.96.0.10:80", "tcp 10.0.0.5 10.96.0.10:80",
            "tcp 10.0.0.5 -> [fd00::1]:80", "tcp 10.0.0.5 -> 10.96.0.10:80 via eth0", "",
        ] {
            #expect(throws: TracerError.self, "\(bad)") { try Tracer.Packet(parsing: bad, localAddresses: local) }
        }
    }
}
