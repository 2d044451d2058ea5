import KubeModel
import RuleSynth

/// A hand-built ruleset that uses every expression kind RuleSynth emits, every set shape (plain, interval,
/// dynamic with timeout, concatenated verdict map, data map), comments on the table, sets, rules and
/// elements, and all three base chain types, next to the `nft -f` text that must produce the same kernel
/// state. Kept until the synthesizer's golden clusters cover the same ground.
enum HandBuiltRuleset {
    static let text = #"""
        table ip kproxy {
        	comment "rules for kproxy"
        	set cluster-ips {
        		type ipv4_addr
        		comment "Active ClusterIPs"
        		elements = { 10.96.0.1, 10.96.0.10 }
        	}
        	set cluster-cidrs {
        		type ipv4_addr
        		flags interval
        		elements = { 10.244.0.0/16, 192.168.7.0/24 }
        	}
        	set affinity-x {
        		type ipv4_addr
        		flags dynamic,timeout
        		timeout 3h
        	}
        	set seen {
        		type ipv4_addr
        		flags timeout
        		elements = { 10.0.0.7 timeout 1h comment "timed" }
        	}
        	map service-ips {
        		type ipv4_addr . inet_proto . inet_service : verdict
        		comment "ClusterIP, ExternalIP and LoadBalancer IP traffic"
        		elements = { 10.96.0.10 . udp . 53 comment "kube-system/kube-dns:dns" : goto service-abc, 10.96.0.1 . tcp . 443 : drop }
        	}
        	map service-nodeports {
        		type inet_proto . inet_service : verdict
        		elements = { tcp . 30080 : goto service-abc }
        	}
        	map backends {
        		type inet_service : ipv4_addr . inet_service
        		elements = { 80 : 10.244.1.5 . 8080, 81 : 10.244.2.6 . 8080 }
        	}
        	chain nat-prerouting {
        		type nat hook prerouting priority dstnat; policy accept;
        		jump services
        		fib daddr type local ip daddr != 127.0.0.0/8 meta l4proto . th dport vmap @service-nodeports
        	}
        	chain nat-postrouting {
        		type nat hook postrouting priority srcnat; policy accept;
        		meta mark & 0x00004000 == 0x00000000 return
        		meta mark set meta mark ^ 0x00004000
        		masquerade fully-random
        	}
        	chain filter-input {
        		type filter hook input priority filter; policy accept;
        		ct state new jump firewall-check comment "new connections"
        	}
        	chain firewall-check {
        		ip daddr 10.96.0.1 tcp dport 443 drop
        	}
        	chain services {
        		ip daddr . meta l4proto . th dport vmap @service-ips
        		ip saddr @cluster-cidrs return
        		ip saddr != @cluster-cidrs ip daddr @cluster-ips counter drop
        	}
        	chain service-abc {
        		ip saddr 10.244.0.0/16 meta mark set meta mark | 0x00004000
        		update @affinity-x { ip saddr }
        		meta l4proto tcp numgen random mod 2 == 0 dnat to 10.244.1.5:8080
        		meta l4proto tcp dnat ip to tcp dport map @backends
        		meta l4proto tcp reject with tcp reset
        		reject
        		goto service-def
        	}
        	chain service-def {
        		ip protocol udp accept
        		jump firewall-check
        	}
        }

        """#

    static let r1 = Register.r1
    static let r9 = Register.r32(1)
    static let r10 = Register.r32(2)

    static func address(_ text: String) -> IPAddress { IPAddress(text)! }
    static func u32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

    static let daddr = Expression.payload(base: .network, offset: 16, length: 4, dest: r1)
    static let saddr = Expression.payload(base: .network, offset: 12, length: 4, dest: r1)
    static let l4proto = Expression.meta(.l4proto, dest: r1)
    static let isTCP = Expression.cmp(.eq, source: r1, data: [6])

    static var transaction: Transaction {
        let table = "kproxy"
        var operations: [Transaction.Operation] = [.addTable(.ip, table, comment: "rules for kproxy")]
        func set(_ set: NamedSet) { operations.append(.addSet(.ip, table: table, set)) }
        func elements(_ name: String, _ elements: [SetElement]) {
            operations.append(.addElements(.ip, table: table, set: name, elements))
        }
        set(NamedSet(name: "cluster-ips", key: [.ipv4Addr], comment: "Active ClusterIPs"))
        elements(
            "cluster-ips",
            [SetElement(key: [.address(address("10.96.0.1"))]), SetElement(key: [.address(address("10.96.0.10"))])]
        )
        set(NamedSet(name: "cluster-cidrs", key: [.ipv4Addr], flags: .interval))
        elements(
            "cluster-cidrs",
            [SetElement(key: [.prefix(CIDR("10.244.0.0/16")!)]), SetElement(key: [.prefix(CIDR("192.168.7.0/24")!)])]
        )
        set(NamedSet(name: "affinity-x", key: [.ipv4Addr], flags: [.eval, .timeout], timeout: 10800))
        set(NamedSet(name: "seen", key: [.ipv4Addr], flags: .timeout))
        elements("seen", [SetElement(key: [.address(address("10.0.0.7"))], timeout: 3600, comment: "timed")])
        set(
            NamedSet(
                name: "service-ips",
                key: [.ipv4Addr, .inetProto, .inetService],
                data: [.verdict],
                comment: "ClusterIP, ExternalIP and LoadBalancer IP traffic"
            )
        )
        set(NamedSet(name: "service-nodeports", key: [.inetProto, .inetService], data: [.verdict]))
        set(NamedSet(name: "backends", key: [.inetService], data: [.ipv4Addr, .inetService]))
        elements(
            "backends",
            [
                SetElement(key: [.port(80)], data: .values([.address(address("10.244.1.5")), .port(8080)])),
                SetElement(key: [.port(81)], data: .values([.address(address("10.244.2.6")), .port(8080)])),
            ]
        )

        // Chains first, as `nft -f` creates them, so jumps to later chains resolve; rules after.
        var rules: [Transaction.Operation] = []
        func chain(_ name: String, _ base: BaseChainSpec? = nil, _ chainRules: [Rule]) {
            operations.append(.addChain(.ip, table: table, Chain(name: name, base: base)))
            for rule in chainRules { rules.append(.addRule(.ip, table: table, chain: name, rule)) }
        }
        let vmapKey: [Expression] = [
            daddr, .meta(.l4proto, dest: r9), .payload(base: .transport, offset: 2, length: 2, dest: r10),
        ]
        chain(
            "nat-prerouting",
            BaseChainSpec(type: .nat, hook: .prerouting, priority: -100),
            [
                Rule([.immediate(.verdict(.jump("services")), dest: .verdict)]),
                Rule([
                    .fib(.daddr, result: .addrtype, dest: r1), .cmp(.eq, source: r1, data: u32(2)),
                    .payload(base: .network, offset: 16, length: 1, dest: r1), .cmp(.neq, source: r1, data: [127]),
                    l4proto, .payload(base: .transport, offset: 2, length: 2, dest: r9),
                    .lookup(set: "service-nodeports", source: r1, dest: .verdict, invert: false),
                ]),
            ]
        )
        let mark = Expression.meta(.mark, dest: r1)
        chain(
            "nat-postrouting",
            BaseChainSpec(type: .nat, hook: .postrouting, priority: 100),
            [
                Rule([
                    mark, .bitwise(source: r1, dest: r1, length: 4, mask: u32(0x4000), xor: u32(0)),
                    .cmp(.eq, source: r1, data: u32(0)), .immediate(.verdict(.return), dest: .verdict),
                ]),
                Rule([
                    mark, .bitwise(source: r1, dest: r1, length: 4, mask: u32(0xffff_ffff), xor: u32(0x4000)),
                    .metaSet(.mark, source: r1),
                ]),
                Rule([.masquerade(flags: NatSpec.protoRandomFully)]),
            ]
        )
        chain(
            "filter-input",
            BaseChainSpec(type: .filter, hook: .input, priority: 0),
            [
                Rule(
                    [
                        .ct(.state, dest: r1), .bitwise(source: r1, dest: r1, length: 4, mask: u32(8), xor: u32(0)),
                        .cmp(.neq, source: r1, data: u32(0)),
                        .immediate(.verdict(.jump("firewall-check")), dest: .verdict),
                    ],
                    comment: "new connections"
                )
            ]
        )
        chain(
            "firewall-check",
            nil,
            [
                Rule([
                    daddr, .cmp(.eq, source: r1, data: [10, 96, 0, 1]), l4proto, isTCP,
                    .payload(base: .transport, offset: 2, length: 2, dest: r1),
                    .cmp(.eq, source: r1, data: [0x01, 0xbb]),
                    .immediate(.verdict(.drop), dest: .verdict),
                ])
            ]
        )
        chain(
            "services",
            nil,
            [
                Rule(vmapKey + [.lookup(set: "service-ips", source: r1, dest: .verdict, invert: false)]),
                Rule([
                    saddr, .lookup(set: "cluster-cidrs", source: r1, dest: nil, invert: false),
                    .immediate(.verdict(.return), dest: .verdict),
                ]),
                Rule([
                    saddr, .lookup(set: "cluster-cidrs", source: r1, dest: nil, invert: true),
                    daddr, .lookup(set: "cluster-ips", source: r1, dest: nil, invert: false),
                    .counter, .immediate(.verdict(.drop), dest: .verdict),
                ]),
            ]
        )
        chain(
            "service-abc",
            nil,
            [
                Rule([
                    .payload(base: .network, offset: 12, length: 2, dest: r1), .cmp(.eq, source: r1, data: [10, 244]),
                    mark, .bitwise(source: r1, dest: r1, length: 4, mask: u32(0xffff_bfff), xor: u32(0x4000)),
                    .metaSet(.mark, source: r1),
                ]),
                Rule([saddr, .dynset(.update, set: "affinity-x", key: r1, timeout: nil)]),
                Rule([
                    l4proto, isTCP, .numgen(.random, modulus: 2, offset: 0, dest: r1),
                    .cmp(.eq, source: r1, data: u32(0)),
                    .immediate(.value([10, 244, 1, 5]), dest: r1), .immediate(.value([0x1f, 0x90]), dest: .r2),
                    .nat(
                        NatSpec(
                            kind: .dnat,
                            family: 2,
                            addressRegister: r1,
                            portRegister: .r2,
                            flags: NatSpec.protoSpecified
                        )
                    ),
                ]),
                Rule([
                    l4proto, isTCP, .payload(base: .transport, offset: 2, length: 2, dest: r1),
                    .lookup(set: "backends", source: r1, dest: r1, invert: false),
                    .nat(NatSpec(kind: .dnat, family: 2, addressRegister: r1, portRegister: r9)),
                ]),
                Rule([l4proto, isTCP, .reject(RejectSpec(kind: .tcpReset, code: 0))]),
                Rule([.reject(.portUnreachable(.ip))]),
                Rule([.immediate(.verdict(.goto("service-def")), dest: .verdict)]),
            ]
        )
        chain(
            "service-def",
            nil,
            [
                Rule([
                    .payload(base: .network, offset: 9, length: 1, dest: r1), .cmp(.eq, source: r1, data: [17]),
                    .immediate(.verdict(.accept), dest: .verdict),
                ]),
                Rule([.immediate(.verdict(.jump("firewall-check")), dest: .verdict)]),
            ]
        )
        operations += rules
        // Elements that point at chains go in after the chains exist.
        elements(
            "service-ips",
            [
                SetElement(
                    key: [.address(address("10.96.0.10")), .proto(.udp), .port(53)],
                    data: .verdict(.goto("service-abc")),
                    comment: "kube-system/kube-dns:dns"
                ),
                SetElement(key: [.address(address("10.96.0.1")), .proto(.tcp), .port(443)], data: .verdict(.drop)),
            ]
        )
        elements(
            "service-nodeports",
            [SetElement(key: [.proto(.tcp), .port(30080)], data: .verdict(.goto("service-abc")))]
        )
        return Transaction(operations)
    }
}
