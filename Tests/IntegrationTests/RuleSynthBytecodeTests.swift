import Foundation
import KubeModel
import RuleSynth
import Testing

/// libnftnl's debug text for kproxy's expression model, as `nft --debug=netlink` prints kernel rules.
///
/// Comparing the two proves that each ``Rule``'s expressions are exactly the bytecode nft 1.0.6 builds
/// from the rendered text, so the Netfilter module (which encodes the model directly) programs what
/// `nft list ruleset` prints back.
enum NetlinkDebugText {
    static func expression(_ expression: RuleSynth.Expression, family: TableFamily) -> String {
        switch expression {
        case .payload(let base, let offset, let length, let dest):
            let baseName = base == .network ? "network" : base == .transport ? "transport" : "link"
            return "[ payload load \(length)b @ \(baseName) header + \(offset) => reg \(dest.number) ]"
        case .meta(let key, let dest):
            return "[ meta load \(metaName(key)) => reg \(dest.number) ]"
        case .metaSet(let key, let source):
            return "[ meta set \(metaName(key)) with reg \(source.number) ]"
        case .ct(let key, let dest):
            return "[ ct load \(key == .state ? "state" : "status") => reg \(dest.number) ]"
        case .fib(let flags, _, let dest):
            return "[ fib \(flags.contains(.saddr) ? "saddr" : "daddr") type => reg \(dest.number) ]"
        case .cmp(let op, let source, let data):
            let names: [CmpOp: String] = [.eq: "eq", .neq: "neq", .lt: "lt", .lte: "lte", .gt: "gt", .gte: "gte"]
            return "[ cmp \(names[op]!) reg \(source.number) \(words(data)) ]"
        case .bitwise(let source, let dest, _, let mask, let xor):
            return "[ bitwise reg \(dest.number) = ( reg \(source.number) & \(words(mask)) ) ^ \(words(xor)) ]"
        case .lookup(let set, let source, let dest, let invert):
            let destText = dest.map { " dreg \($0.number)" } ?? ""
            return "[ lookup reg \(source.number) set \(set)\(destText) 0x\(invert ? 1 : 0) ]"
        case .immediate(.verdict(let verdict), let dest):
            switch verdict {
            case .jump(let chain): return "[ immediate reg \(dest.number) jump -> \(chain) ]"
            case .goto(let chain): return "[ immediate reg \(dest.number) goto -> \(chain) ]"
            default: return "[ immediate reg \(dest.number) \(verdict) ]"
            }
        case .immediate(.value(let bytes), let dest):
            return "[ immediate reg \(dest.number) \(words(bytes)) ]"
        case .numgen(let type, let modulus, let offset, let dest):
            let offsetText = offset == 0 ? "" : " offset \(offset)"
            return "[ numgen reg \(dest.number) = \(type == .random ? "random" : "inc") mod \(modulus)\(offsetText) ]"
        case .dynset(let op, let set, let key, let timeout):
            let opName = op == .update ? "update" : op == .add ? "add" : "delete"
            return "[ dynset \(opName) reg_key \(key.number) set \(set) timeout \(timeout ?? 0)ms ]"
        case .nat(let spec):
            var text = "[ nat \(spec.kind == .dnat ? "dnat" : "snat") \(spec.family == 2 ? "ip" : "ip6")"
            if let address = spec.addressRegister {
                text += " addr_min reg \(address.number) addr_max reg \(address.number)"
            }
            if let port = spec.portRegister { text += " proto_min reg \(port.number) proto_max reg \(port.number)" }
            return text + " flags 0x\(String(spec.flags, radix: 16)) ]"
        case .masquerade(let flags):
            return "[ masq flags 0x\(String(flags, radix: 16)) ]"
        case .reject(let spec):
            return "[ reject type \(spec.kind.rawValue) code \(spec.code) ]"
        case .counter:
            return "[ counter pkts 0 bytes 0 ]"
        }
    }

    static func metaName(_ key: MetaKey) -> String {
        switch key {
        case .mark: return "mark"
        case .iifname: return "iifname"
        case .oifname: return "oifname"
        case .nfproto: return "nfproto"
        case .l4proto: return "l4proto"
        }
    }

    /// Register data as libnftnl prints it: 32-bit words in host order, `0x%08x` each.
    static func words(_ bytes: [UInt8]) -> String {
        stride(from: 0, to: bytes.count, by: 4).map { start in
            var value: UInt32 = 0
            withUnsafeMutableBytes(of: &value) { raw in
                for (index, byte) in bytes[start..<min(start + 4, bytes.count)].enumerated() { raw[index] = byte }
            }
            let digits = String(value, radix: 16)
            return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
        }.joined(separator: " ")
    }

    /// Each chain's rules, as lists of expression lines, from `nft --debug=netlink list ruleset`.
    static func parse(_ dump: String) -> [String: [[String]]] {
        var chains: [String: [[String]]] = [:]
        var current: (key: String, lines: [String])?
        func flush() {
            if let current { chains[current.key, default: []].append(current.lines) }
            current = nil
        }
        for line in dump.split(separator: "\n").map(String.init) {
            let fields = line.split(separator: " ")
            if (line.hasPrefix("ip kproxy ") || line.hasPrefix("ip6 kproxy ")) && fields.count >= 4, !line.contains("@") {
                flush()
                current = ("\(fields[0]) \(fields[2])", [])
            } else if line.hasPrefix("  [") {
                current?.lines.append(line.trimmingCharacters(in: .whitespaces))
            } else if !line.hasPrefix("  userdata") {
                flush()
            }
        }
        flush()
        return chains
    }
}

@Suite("RuleSynth bytecode", .serialized)
struct RuleSynthBytecodeTests {
    @Test("Every rule's expressions are the bytecode nft builds from its rendered text")
    func bytecodeMatchesNft() throws {
        try #require(ScratchNetns.unavailableReason == nil, "skipped: \(ScratchNetns.unavailableReason ?? "")")
        let netns = try ScratchNetns(area: "synth")
        defer { netns.delete() }
        for seed in UInt64(100)...105 {
            var rng = SplitMix64(state: seed)
            var synthesizer = RuleSynthesizer(node: RandomCluster.node)
            let ruleset = RandomCluster.ruleset(RandomCluster.state(&rng), into: &synthesizer, previous: [:])
            try netns.apply(SyncPlanner.fullSync(ruleset).render())
            let (status, dump) = try ScratchNetns.run(
                ScratchNetns.ip!, ["netns", "exec", netns.name, ScratchNetns.nft!, "--debug=netlink", "list", "ruleset"])
            try #require(status == 0, "nft --debug=netlink failed: \(dump)")
            let kernel = NetlinkDebugText.parse(dump)
            var compared = 0
            for table in ruleset.tables {
                for chain in table.chains.values {
                    let ours = chain.rules.map { $0.expressions.map { NetlinkDebugText.expression($0, family: table.family) } }
                    let theirs = kernel["\(table.family.rawValue) \(chain.name)"] ?? []
                    #expect(ours == theirs, "seed \(seed): \(table.family.rawValue) chain \(chain.name) differs")
                    compared += ours.count
                }
            }
            #expect(compared > 20)
        }
    }
}
