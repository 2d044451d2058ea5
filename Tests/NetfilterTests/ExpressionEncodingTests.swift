import CNetfilter
import KubeModel
import Netfilter
import RuleSynth
import Testing

/// Every expression kind RuleSynth emits, encoded and decoded back by libnftnl into the lines
/// `nft --debug=netlink` prints for the same nft syntax (captured from nft 1.0.6), without a kernel.
@Suite struct ExpressionEncodingTests {
    static let r1 = Register.r1
    static func u32(_ value: UInt32) -> [UInt8] { withUnsafeBytes(of: value) { Array($0) } }

    /// libnftnl's rendering of each rule message in `batch`, one string per rule.
    static func decodedRules(_ batch: NetlinkBatch) -> [String] {
        var rules: [String] = []
        batch.bytes.withUnsafeBytes { raw in
            var offset = 0
            while offset + 16 <= raw.count {
                let header = (raw.baseAddress! + offset).assumingMemoryBound(to: nlmsghdr.self)
                if header.pointee.nlmsg_type & 0xff == UInt16(NFT_MSG_NEWRULE.rawValue),
                    header.pointee.nlmsg_type >> 8 == UInt16(NFNL_SUBSYS_NFTABLES)
                {
                    let rule = nftnl_rule_alloc()!
                    defer { nftnl_rule_free(rule) }
                    #expect(nftnl_rule_nlmsg_parse(header, rule) == 0)
                    var buffer = [CChar](repeating: 0, count: 4096)
                    _ = nftnl_rule_snprintf(&buffer, buffer.count, rule, UInt32(NFTNL_OUTPUT_DEFAULT.rawValue), 0)
                    let text = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                    // Drop the "ip kproxy chain handle position" line: only the expressions matter here.
                    rules.append(
                        text.split(separator: "\n").dropFirst().map { $0.trimmingCharacters(in: .whitespaces) }
                            .joined(separator: "\n")
                    )
                }
                offset += (Int(header.pointee.nlmsg_len) + 3) & ~3
            }
        }
        return rules
    }

    static func decode(_ expressions: [Expression]) throws -> String {
        let transaction = Transaction([.addRule(.ip, table: "kproxy", chain: "c", Rule(expressions))])
        return try #require(decodedRules(try NetlinkBatch(transaction)).first)
    }

    @Test func payloadCmpAndVerdicts() throws {
        #expect(
            try Self.decode([
                .payload(base: .network, offset: 16, length: 4, dest: Self.r1),
                .cmp(.eq, source: Self.r1, data: [10, 96, 0, 1]),
                .immediate(.verdict(.goto("service-def")), dest: .verdict),
            ]) == """
                [ payload load 4b @ network header + 16 => reg 1 ]
                [ cmp eq reg 1 0x0100600a ]
                [ immediate reg 0 goto -> service-def ]
                """
        )
    }

    @Test func ctStateWithBitwiseAndJump() throws {
        #expect(
            try Self.decode([
                .ct(.state, dest: Self.r1),
                .bitwise(source: Self.r1, dest: Self.r1, length: 4, mask: Self.u32(8), xor: Self.u32(0)),
                .cmp(.neq, source: Self.r1, data: Self.u32(0)),
                .immediate(.verdict(.jump("firewall-check")), dest: .verdict),
            ]) == """
                [ ct load state => reg 1 ]
                [ bitwise reg 1 = ( reg 1 & 0x00000008 ) ^ 0x00000000 ]
                [ cmp neq reg 1 0x00000000 ]
                [ immediate reg 0 jump -> firewall-check ]
                """
        )
    }

    @Test func fibMetaAndVerdictMapLookup() throws {
        #expect(
            try Self.decode([
                .fib(.daddr, result: .addrtype, dest: Self.r1), .cmp(.eq, source: Self.r1, data: Self.u32(2)),
                .meta(.l4proto, dest: Self.r1), .payload(base: .transport, offset: 2, length: 2, dest: .r32(1)),
                .lookup(set: "service-nodeports", source: Self.r1, dest: .verdict, invert: false),
            ]) == """
                [ fib daddr type => reg 1 ]
                [ cmp eq reg 1 0x00000002 ]
                [ meta load l4proto => reg 1 ]
                [ payload load 2b @ transport header + 2 => reg 9 ]
                [ lookup reg 1 set service-nodeports dreg 0 ]
                """
        )
    }

    @Test func markSetMasqueradeAndInvertedLookup() throws {
        #expect(
            try Self.decode([
                .payload(base: .network, offset: 12, length: 4, dest: Self.r1),
                .lookup(set: "cluster-cidrs", source: Self.r1, dest: nil, invert: true),
                .meta(.mark, dest: Self.r1),
                .bitwise(source: Self.r1, dest: Self.r1, length: 4, mask: Self.u32(0xffff_bfff), xor: Self.u32(0x4000)),
                .metaSet(.mark, source: Self.r1), .counter, .masquerade(flags: NatSpec.protoRandomFully),
            ]) == """
                [ payload load 4b @ network header + 12 => reg 1 ]
                [ lookup reg 1 set cluster-cidrs 0x1 ]
                [ meta load mark => reg 1 ]
                [ bitwise reg 1 = ( reg 1 & 0xffffbfff ) ^ 0x00004000 ]
                [ meta set mark with reg 1 ]
                [ counter pkts 0 bytes 0 ]
                [ masq flags 0x10 ]
                """
        )
    }

    @Test func numgenDnatDynsetAndReject() throws {
        #expect(
            try Self.decode([
                .numgen(.random, modulus: 2, offset: 0, dest: Self.r1), .cmp(.eq, source: Self.r1, data: Self.u32(0)),
                .immediate(.value([10, 244, 1, 5]), dest: Self.r1), .immediate(.value([0x1f, 0x90]), dest: .r2),
                .nat(
                    NatSpec(
                        kind: .dnat,
                        family: 2,
                        addressRegister: Self.r1,
                        portRegister: .r2,
                        flags: NatSpec.protoSpecified
                    )
                ),
                .dynset(.update, set: "affinity-x", key: Self.r1, timeout: 10_800_000),
                .reject(.portUnreachable(.ip)), .reject(RejectSpec(kind: .tcpReset, code: 0)),
            ]) == """
                [ numgen reg 1 = random mod 2 ]
                [ cmp eq reg 1 0x00000000 ]
                [ immediate reg 1 0x0501f40a ]
                [ immediate reg 2 0x0000901f ]
                [ nat dnat ip addr_min reg 1 proto_min reg 2 flags 0x2 ]
                [ dynset update reg_key 1 set affinity-x timeout 10800000ms ]
                [ reject type 0 code 3 ]
                [ reject type 1 code 0 ]
                """
        )
    }

    @Test func refusesMalformedExpressions() {
        #expect(throws: NetfilterError.self) {
            try Self.decode([.numgen(.random, modulus: 0, offset: 0, dest: Self.r1)])
        }
        #expect(throws: NetfilterError.self) {
            try Self.decode([.bitwise(source: Self.r1, dest: Self.r1, length: 4, mask: [1], xor: [0])])
        }
    }
}
