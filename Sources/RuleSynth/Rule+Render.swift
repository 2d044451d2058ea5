import KubeModel

/// Recovers nft's text for a rule from its kernel expressions, the way nft's delinearizer does: by
/// tracking what each register holds and printing each comparison, lookup or statement in nft 1.0.6's
/// listing form. It covers the expression shapes ``RuleBuilder`` produces; anything else prints in a
/// bracketed raw form, so a rule never renders silently wrong.
struct RuleRenderer {
    let family: TableFamily

    /// What a 4-byte register slot holds.
    private enum Content {
        case field(String, ValueKind, length: UInt32)
        /// The first `bytes` bytes of an address: nft prints this as a prefix.
        case addressPrefix(String, ValueKind, bytes: UInt32)
        case masked(String, ValueKind, mask: [UInt8], length: UInt32)
        case markOp(mask: [UInt8], xor: [UInt8])
        case immediate([UInt8])
    }

    enum ValueKind {
        case ipv4, ipv6, proto, port, mark, ctState, ctStatus, fibType, integer
    }

    func render(_ rule: Rule) -> String {
        var slots: [UInt32: Content] = [:]
        var parts: [String] = []
        for expression in rule.expressions {
            switch expression {
            case .payload(let base, let offset, let length, let dest):
                slots[dest.slot] = payload(base, offset, length)
            case .meta(let key, let dest):
                switch key {
                case .l4proto: slots[dest.slot] = .field("meta l4proto", .proto, length: 1)
                case .mark: slots[dest.slot] = .field("meta mark", .mark, length: 4)
                case .nfproto: slots[dest.slot] = .field("meta nfproto", .integer, length: 1)
                case .iifname: slots[dest.slot] = .field("iifname", .integer, length: 16)
                case .oifname: slots[dest.slot] = .field("oifname", .integer, length: 16)
                }
            case .ct(let key, let dest):
                slots[dest.slot] =
                    key == .state ? .field("ct state", .ctState, length: 4) : .field("ct status", .ctStatus, length: 4)
            case .fib(let flags, _, let dest):
                slots[dest.slot] = .field("fib \(flags.contains(.saddr) ? "saddr" : "daddr") type", .fibType, length: 4)
            case .numgen(let type, let modulus, let offset, let dest):
                let name = "numgen \(type == .random ? "random" : "inc") mod \(modulus)"
                    + (offset == 0 ? "" : " offset \(offset)")
                slots[dest.slot] = .field(name, .integer, length: 4)
            case .bitwise(let source, let dest, let length, let mask, let xor):
                switch slots[source.slot] {
                case .field(let name, .mark, _) where xor.contains(where: { $0 != 0 }):
                    _ = name
                    slots[dest.slot] = .markOp(mask: mask, xor: xor)
                case .field(let name, let kind, _):
                    slots[dest.slot] = .masked(name, kind, mask: mask, length: length)
                default:
                    parts.append("[bitwise]")
                }
            case .cmp(let op, let source, let data):
                parts.append(comparison(op, slots[source.slot], data))
                slots[source.slot] = nil
            case .lookup(let set, let source, let dest, let invert):
                let lhs = concatenation(from: source, slots: &slots)
                if dest == .verdict {
                    parts.append("\(lhs) vmap @\(set)")
                } else if dest != nil {
                    parts.append("\(lhs) map @\(set)")
                } else {
                    parts.append(invert ? "\(lhs) != @\(set)" : "\(lhs) @\(set)")
                }
            case .immediate(let data, let dest):
                switch data {
                case .verdict(let verdict): parts.append(verdict.description)
                case .value(let bytes): slots[dest.slot] = .immediate(bytes)
                }
            case .metaSet(let key, let source):
                let name = key == .mark ? "meta mark" : "meta \(key)"
                switch slots[source.slot] {
                case .markOp(let mask, let xor):
                    let xorValue = Self.hostValue(xor)
                    if Self.hostValue(mask) == 0xffff_ffff {
                        parts.append("\(name) set \(name) ^ \(Self.hex(xorValue))")
                    } else {
                        parts.append("\(name) set \(name) | \(Self.hex(xorValue))")
                    }
                case .immediate(let bytes): parts.append("\(name) set \(Self.hex(Self.hostValue(bytes)))")
                default: parts.append("[meta set]")
                }
            case .dynset(let op, let set, let key, let timeout):
                let verb = op == .update ? "update" : (op == .add ? "add" : "delete")
                let lhs = concatenation(from: key, slots: &slots)
                let suffix = timeout.map { " timeout \(Self.duration(milliseconds: $0))" } ?? ""
                parts.append("\(verb) @\(set) { \(lhs)\(suffix) }")
            case .nat(let spec):
                parts.append(nat(spec, slots: slots))
            case .masquerade(let flags):
                var text = "masquerade"
                if flags & NatSpec.protoRandomFully != 0 { text += " fully-random" }
                parts.append(text)
            case .reject(let spec):
                switch spec.kind {
                case .tcpReset: parts.append("reject with tcp reset")
                case .icmpUnreach where spec == .portUnreachable(family): parts.append("reject")
                case .icmpUnreach: parts.append("reject with \(family == .ip ? "icmp" : "icmpv6") \(spec.code)")
                case .icmpxUnreach: parts.append("reject with icmpx \(spec.code)")
                }
            case .counter:
                parts.append("counter packets 0 bytes 0")
            }
        }
        if let comment = rule.comment { parts.append("comment \(Self.quoted(comment))") }
        return parts.joined(separator: " ")
    }

    private func payload(_ base: PayloadBase, _ offset: UInt32, _ length: UInt32) -> Content {
        let prefix = family == .ip ? "ip" : "ip6"
        let kind: ValueKind = family == .ip ? .ipv4 : .ipv6
        let full: UInt32 = family == .ip ? 4 : 16
        switch (base, offset) {
        case (.network, Field.saddr.addressLocation(family).0), (.network, Field.daddr.addressLocation(family).0):
            let name = "\(prefix) \(offset == Field.saddr.addressLocation(family).0 ? "saddr" : "daddr")"
            return length == full ? .field(name, kind, length: length) : .addressPrefix(name, kind, bytes: length)
        case (.transport, 2) where length == 2:
            return .field("th dport", .port, length: 2)
        default:
            return .field("@\(base == .network ? "nh" : base == .transport ? "th" : "ll"),\(offset * 8),\(length * 8)",
                .integer, length: length)
        }
    }

    private func comparison(_ op: CmpOp, _ content: Content?, _ data: [UInt8]) -> String {
        let opText: String
        switch op {
        case .eq: opText = ""
        case .neq: opText = "!= "
        case .lt: opText = "< "
        case .lte: opText = "<= "
        case .gt: opText = "> "
        case .gte: opText = ">= "
        }
        switch content {
        case .field(let name, let kind, _):
            return "\(name) \(opText)\(Self.value(kind, data))"
        case .addressPrefix(let name, let kind, let bytes):
            let width = kind == .ipv4 ? 4 : 16
            let padded = data + [UInt8](repeating: 0, count: max(0, width - data.count))
            let address = IPAddress(bytes: padded.prefix(width)).map(\.description) ?? "?"
            return "\(name) \(opText)\(address)/\(bytes * 8)"
        case .masked(let name, let kind, let mask, _):
            switch kind {
            case .ctState where op == .neq && data.allSatisfy({ $0 == 0 }):
                return "\(name) \(Self.ctStateNames(Self.hostValue(mask)))"
            case .ctStatus where op == .neq && data.allSatisfy({ $0 == 0 }):
                return "\(name) \(Self.ctStatusNames(Self.hostValue(mask)))"
            case .ipv4, .ipv6:
                let prefixLength = mask.reduce(0) { $0 + $1.nonzeroBitCount }
                let address = IPAddress(bytes: data).map(\.description) ?? "?"
                return "\(name) \(opText)\(address)/\(prefixLength)"
            default:
                let operatorText = op == .eq ? "== " : opText
                return "\(name) & \(Self.value(kind, mask)) \(operatorText)\(Self.value(kind, data))"
            }
        default:
            return "[cmp \(opText)\(data)]"
        }
    }

    /// The lookup key: one field, or a concatenation loaded into consecutive 4-byte slots. Registers are
    /// consumed by their use, so the walk stops where this key's loads end.
    private func concatenation(from register: Register, slots: inout [UInt32: Content]) -> String {
        var names: [String] = []
        var slot = register.slot
        while case .field(let name, _, let length) = slots[slot] {
            names.append(name)
            slots[slot] = nil
            slot += (length + 3) / 4
        }
        return names.isEmpty ? "[reg \(register.slot)]" : names.joined(separator: " . ")
    }

    private func nat(_ spec: NatSpec, slots: [UInt32: Content]) -> String {
        let kind = spec.kind == .dnat ? "dnat" : "snat"
        var address: String?
        if let register = spec.addressRegister, case .immediate(let bytes) = slots[register.slot] {
            address = IPAddress(bytes: bytes)?.description
        }
        var port: String?
        if let register = spec.portRegister, case .immediate(let bytes) = slots[register.slot], bytes.count >= 2 {
            port = String(UInt16(bytes[0]) << 8 | UInt16(bytes[1]))
        }
        switch (address, port) {
        case (let address?, let port?):
            return family == .ip ? "\(kind) to \(address):\(port)" : "\(kind) to [\(address)]:\(port)"
        case (let address?, nil):
            return "\(kind) to \(address)"
        case (nil, let port?):
            return "\(kind) to :\(port)"
        case (nil, nil):
            return kind
        }
    }

    static func value(_ kind: ValueKind, _ data: [UInt8]) -> String {
        switch kind {
        case .ipv4, .ipv6: return IPAddress(bytes: data)?.description ?? "?"
        case .proto:
            switch data.first ?? 0 {
            case 6: return "tcp"
            case 17: return "udp"
            case 132: return "sctp"
            case let other: return String(other)
            }
        case .port: return data.count >= 2 ? String(UInt16(data[0]) << 8 | UInt16(data[1])) : "?"
        case .mark: return hex(hostValue(data))
        case .ctState: return ctStateNames(hostValue(data))
        case .ctStatus: return ctStatusNames(hostValue(data))
        case .fibType:
            let names = ["unspec", "unicast", "local", "broadcast", "anycast", "multicast", "blackhole", "unreachable", "prohibit"]
            let value = Int(hostValue(data))
            return value < names.count ? names[value] : String(value)
        case .integer: return String(hostValue(data))
        }
    }

    static func ctStateNames(_ bits: UInt32) -> String {
        let names: [(UInt32, String)] = [(1, "invalid"), (2, "established"), (4, "related"), (8, "new"), (64, "untracked")]
        return names.filter { bits & $0.0 != 0 }.map(\.1).joined(separator: ",")
    }

    static func ctStatusNames(_ bits: UInt32) -> String {
        let names: [(UInt32, String)] = [
            (1, "expected"), (2, "seen-reply"), (4, "assured"), (8, "confirmed"), (16, "snat"), (32, "dnat"),
            (512, "dying"),
        ]
        return names.filter { bits & $0.0 != 0 }.map(\.1).joined(separator: ",")
    }

    /// A register value the kernel keeps in host byte order.
    static func hostValue(_ bytes: [UInt8]) -> UInt32 {
        var value: UInt32 = 0
        withUnsafeMutableBytes(of: &value) { raw in
            for (index, byte) in bytes.prefix(4).enumerated() { raw[index] = byte }
        }
        return value
    }

    /// nft prints marks as `0x` and 8 hex digits.
    static func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: max(0, 8 - digits.count)) + digits
    }

    static func quoted(_ text: String) -> String {
        // nft has no escapes inside strings: a quote would end the string, so it is dropped.
        "\"" + text.replacingOccurrences(of: "\"", with: "") + "\""
    }

    /// nft's time format: `3h`, `1m30s`, `1d2h`, `500ms`.
    static func duration(milliseconds: UInt64) -> String {
        if milliseconds == 0 { return "0s" }
        var rest = milliseconds
        var text = ""
        for (unit, size) in [("d", UInt64(86_400_000)), ("h", 3_600_000), ("m", 60_000), ("s", 1000), ("ms", 1)] {
            let count = rest / size
            rest %= size
            if count > 0 { text += "\(count)\(unit)" }
        }
        return text
    }
}
