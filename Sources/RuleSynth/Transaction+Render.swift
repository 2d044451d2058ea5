extension Transaction {
    /// The transaction as an `nft -f` script: one command per line, applied atomically by nft.
    public func render() -> String {
        var text = ""
        for operation in operations {
            text += operation.render()
            text += "\n"
        }
        return text
    }
}

extension Transaction.Operation {
    func render() -> String {
        switch self {
        case .addTable(let family, let table, let comment):
            let body = comment.map { " { comment \(RuleRenderer.quoted($0)) ; }" } ?? ""
            return "add table \(family.rawValue) \(table)\(body)"
        case .deleteTable(let family, let table):
            return "delete table \(family.rawValue) \(table)"
        case .addChain(let family, let table, let chain):
            var options: [String] = []
            if let base = chain.base {
                options.append(
                    "type \(base.type.rawValue) hook \(base.hook.rawValue) priority \(base.priority) ; policy \(base.policy) ;")
            }
            if let comment = chain.comment { options.append("comment \(RuleRenderer.quoted(comment)) ;") }
            let body = options.isEmpty ? "" : " { " + options.joined(separator: " ") + " }"
            return "add chain \(family.rawValue) \(table) \(chain.name)\(body)"
        case .flushChain(let family, let table, let chain):
            return "flush chain \(family.rawValue) \(table) \(chain)"
        case .deleteChain(let family, let table, let chain):
            return "delete chain \(family.rawValue) \(table) \(chain)"
        case .addRule(let family, let table, let chain, let rule):
            return "add rule \(family.rawValue) \(table) \(chain) \(RuleRenderer(family: family).render(rule))"
        case .addSet(let family, let table, let set):
            var options = ["type \(set.typeDescription) ;"]
            if let size = set.size { options.append("size \(size) ;") }
            if let flags = set.declaredFlags { options.append("flags \(flags) ;") }
            if let timeout = set.timeout {
                options.append("timeout \(RuleRenderer.duration(milliseconds: UInt64(timeout) * 1000)) ;")
            }
            if let comment = set.comment { options.append("comment \(RuleRenderer.quoted(comment)) ;") }
            return "add \(set.isMap ? "map" : "set") \(family.rawValue) \(table) \(set.name) { "
                + options.joined(separator: " ") + " }"
        case .flushSet(let family, let table, let set, let isMap):
            return "flush \(isMap ? "map" : "set") \(family.rawValue) \(table) \(set)"
        case .deleteSet(let family, let table, let set, let isMap):
            return "delete \(isMap ? "map" : "set") \(family.rawValue) \(table) \(set)"
        case .addElements(let family, let table, let set, let elements):
            return "add element \(family.rawValue) \(table) \(set) { "
                + elements.map { $0.render() }.joined(separator: ", ") + " }"
        case .deleteElements(let family, let table, let set, let elements):
            return "delete element \(family.rawValue) \(table) \(set) { "
                + elements.map { $0.key.map(\.nftText).joined(separator: " . ") }.joined(separator: ", ") + " }"
        }
    }
}

extension NamedSet {
    /// Every flag, as a declaration states them (the listing hides some, see ``flagsDescription``).
    var declaredFlags: String? {
        var names: [String] = []
        if flags.contains(.constant) { names.append("constant") }
        if flags.contains(.dynamic) { names.append("dynamic") }
        if flags.contains(.interval) { names.append("interval") }
        if flags.contains(.timeout) { names.append("timeout") }
        return names.isEmpty ? nil : names.joined(separator: ",")
    }
}
