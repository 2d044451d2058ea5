/// The indexed forward zone as an RFC 1035 master file, for `kproxy dns --print-zone`.
///
/// The benchmark serves this file from Knot DNS beside kproxy, so both answer exactly the same records.
/// Computed names (pod records) and the reverse zones are not in it.
extension ZoneIndex {
    public func zoneFile(nameserver: DNSName) -> String {
        let apex = config.zone
        var lines = [
            "$ORIGIN \(apex)",
            "$TTL \(config.ttl)",
            "@ \(min(config.ttl, 300)) IN SOA \(render(soa(owner: apex).data))",
            "@ IN NS \(nameserver)",
        ]
        let named = nodes.compactMap { key, node -> (String, [RData])? in
            let records = node.sets.flatMap(\.records)
            guard !records.isEmpty, let name = try? DNSName(wire: key.bytes) else { return nil }
            return (name.description, records)
        }
        for (name, records) in named.sorted(by: { $0.0 < $1.0 }) {
            for record in records { lines.append("\(name) IN \(record.type) \(render(record))") }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func render(_ data: RData) -> String {
        switch data {
        case .a(let address), .aaaa(let address): return "\(address)"
        case .cname(let target), .ptr(let target), .ns(let target): return "\(target)"
        case .srv(let srv): return "\(srv.priority) \(srv.weight) \(srv.port) \(srv.target)"
        case .txt(let strings):
            return strings.map { "\"\(String(decoding: $0, as: UTF8.self))\"" }.joined(separator: " ")
        case .soa(let soa):
            return
                "\(soa.primary) \(soa.mailbox) \(soa.serial) \(soa.refresh) \(soa.retry) \(soa.expire) \(soa.minimum)"
        case .mx(let preference, let exchange): return "\(preference) \(exchange)"
        case .unknown(_, let bytes):
            return "\\# \(bytes.count) " + bytes.map { ($0 < 16 ? "0" : "") + String($0, radix: 16) }.joined()
        }
    }
}

extension DNSName {
    /// A name from wire labels already validated by the index (its own keys).
    init(wire: [UInt8]) throws(DNSNameError) {
        var labels: [ArraySlice<UInt8>] = []
        var index = 0
        while index < wire.count {
            let length = Int(wire[index])
            guard index + 1 + length <= wire.count else { throw .emptyLabel }
            labels.append(wire[(index + 1)..<(index + 1 + length)])
            index += 1 + length
        }
        try self.init(labels: labels)
    }
}
