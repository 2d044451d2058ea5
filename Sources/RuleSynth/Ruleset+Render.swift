import KubeModel

extension Ruleset {
    /// The ruleset as `nft list ruleset` prints it (without handles): the dry-run output, and valid
    /// `nft -f` input. Objects come in a fixed order (sets, then chains, each sorted by name) and elements
    /// sorted; the kernel lists in creation and hash order, so compare element lists as sets.
    public func render() -> String {
        tables.sorted { $0.family < $1.family }.map { $0.render() }.joined()
    }
}

extension Table {
    public func render() -> String {
        var blocks: [String] = []
        for set in sets.values.sorted(by: { $0.name < $1.name }) { blocks.append(set.render(family: family)) }
        let renderer = RuleRenderer(family: family)
        for chain in chains.values.sorted(by: { $0.name < $1.name }) {
            blocks.append(chain.render(renderer))
        }
        var text = "table \(family.rawValue) \(name) {\n"
        if let comment { text += "\tcomment \(RuleRenderer.quoted(comment))\n" }
        text += blocks.joined(separator: "\n")
        text += "}\n"
        return text
    }

}

extension Chain {
    func render(_ renderer: RuleRenderer) -> String {
        var text = "\tchain \(name) {\n"
        if let comment { text += "\t\tcomment \(RuleRenderer.quoted(comment))\n" }
        if let base {
            text += "\t\ttype \(base.type.rawValue) hook \(base.hook.rawValue) priority "
                + "\(base.priorityName(renderer.family)); policy \(base.policy);\n"
        }
        for rule in rules { text += "\t\t\(renderer.render(rule))\n" }
        text += "\t}\n"
        return text
    }
}

extension BaseChainSpec {
    /// nft 1.0.6 prints a priority within 10 of a standard one by name (`dstnat - 10`) where the hook allows
    /// the name: `dstnat` only in prerouting and `srcnat` only in postrouting (output gets `-100`).
    func priorityName(_ family: TableFamily) -> String {
        let standard: [(String, Int32, Set<Hook>?)] = [
            ("raw", -300, nil), ("mangle", -150, nil), ("dstnat", -100, [.prerouting]),
            ("filter", 0, nil), ("security", 50, nil), ("srcnat", 100, [.postrouting]),
        ]
        for (name, value, hooks) in standard where hooks?.contains(hook) ?? true {
            let offset = Int64(priority) - Int64(value)
            guard abs(offset) <= 10 else { continue }
            if offset == 0 { return name }
            return offset > 0 ? "\(name) + \(offset)" : "\(name) - \(-offset)"
        }
        return String(priority)
    }
}

extension NamedSet {
    /// The key type as nft spells it: `ipv4_addr . inet_proto . inet_service`, with `: verdict` for maps.
    var typeDescription: String {
        var text = key.map(\.nftName).joined(separator: " . ")
        if let data { text += " : " + data.map(\.nftName).joined(separator: " . ") }
        return text
    }

    /// nft lists the flags line only when it says more than a set `timeout` implies.
    var flagsDescription: String? {
        let shown: SetFlags = [.constant, .interval, .dynamic]
        guard !flags.intersection(shown).isEmpty || (flags.contains(.timeout) && timeout == nil) else { return nil }
        var names: [String] = []
        if flags.contains(.constant) { names.append("constant") }
        if flags.contains(.dynamic) { names.append("dynamic") }
        if flags.contains(.interval) { names.append("interval") }
        if flags.contains(.timeout) { names.append("timeout") }
        return names.joined(separator: ",")
    }

    func render(family: TableFamily) -> String {
        var text = "\t\(isMap ? "map" : "set") \(name) {\n"
        text += "\t\ttype \(typeDescription)\n"
        if let size { text += "\t\tsize \(size)\n" }
        if let flags = flagsDescription { text += "\t\tflags \(flags)\n" }
        if let timeout { text += "\t\ttimeout \(RuleRenderer.duration(milliseconds: UInt64(timeout) * 1000))\n" }
        if let comment { text += "\t\tcomment \(RuleRenderer.quoted(comment))\n" }
        if !elements.isEmpty {
            text += "\t\telements = " + renderElements(sortedElements) + "\n"
        }
        text += "\t}\n"
        return text
    }

    var sortedElements: [SetElement] {
        elements.sorted { $0.key.lexicographicallyPrecedes($1.key) }
    }

    /// nft's `calculate_delim`: two single addresses per line, five single integers, one of anything else.
    func renderElements(_ elements: [SetElement]) -> String {
        let perLine: Int
        switch key.count == 1 ? key[0] : nil {
        case .ipv4Addr: perLine = 2
        case .inetProto, .inetService, .mark: perLine = 5
        default: perLine = 1
        }
        var text = "{ "
        var count = 0
        for (index, element) in elements.enumerated() {
            if index > 0 {
                if count < perLine {
                    text += ", "
                } else {
                    count = 0
                    text += ",\n\t\t\t     "
                }
            }
            text += element.render()
            count += 1
        }
        return text + " }"
    }
}

extension SetElement {
    func render() -> String {
        var text = key.map(\.nftText).joined(separator: " . ")
        if let timeout { text += " timeout \(RuleRenderer.duration(milliseconds: UInt64(timeout) * 1000))" }
        if let comment { text += " comment \(RuleRenderer.quoted(comment))" }
        switch data {
        case .verdict(let verdict): text += " : \(verdict)"
        case .values(let values): text += " : " + values.map(\.nftText).joined(separator: " . ")
        case nil: break
        }
        return text
    }
}

extension ElementValue {
    var nftText: String {
        switch self {
        case .mark(let mark): return RuleRenderer.hex(mark)
        default: return description
        }
    }
}
