import ClusterModel
import KubeModel

/// The names one Service owns, per Kubernetes DNS schema 1.1.0 and CoreDNS's `kubernetes` plugin.
extension ZoneIndex {
    /// The schema version `dns-version.<zone>` announces.
    public static let schemaVersion = "1.1.0"

    func fixedContributions() -> [Contribution] {
        let zone = config.zone
        var result = [Contribution(name: zone, records: [])]
        if let version = zone.child("dns-version") {
            result.append(Contribution(name: version, records: [.txt([Array(ZoneIndex.schemaVersion.utf8)])]))
        }
        // `svc.<zone>` and `pod.<zone>` are NODATA even in an empty cluster, as in CoreDNS.
        for label in ["svc", "pod"] {
            if let name = zone.child(label) { result.append(Contribution(name: name, records: [])) }
        }
        return result
    }

    /// Every forward and reverse name of `entry`, each name once.
    static func contributions(for entry: ServiceEntry, config: ZoneConfig) -> [Contribution] {
        var builder = ContributionBuilder()
        guard let namespace = config.zone.child("svc")?.child(entry.key.namespace) else { return [] }
        // The namespace exists while it has a Service, even one whose own name is NXDOMAIN.
        builder.add(namespace, [])
        guard let base = namespace.child(entry.key.name) else { return builder.result }
        let spec = entry.spec
        let published = entry.endpoints.filter { $0.ready || spec.publishNotReadyAddresses }

        if spec.type == .externalName {
            if let target = spec.externalName.flatMap({ try? DNSName($0) }) {
                builder.add(base, [.cname(target)])
            }
            return builder.result
        }
        if spec.isHeadless {
            // Schema 1.1.0 §2.4.1: no ready endpoints means the name does not exist.
            guard !published.isEmpty else { return builder.result }
            builder.add(base, published.map { $0.address.addressRecord })
        } else {
            builder.add(base, spec.clusterIPs.map(\.addressRecord))
            for ip in spec.clusterIPs { builder.addReverse(ip, base) }
        }

        // Endpoint names: hostname, else the dashed IP; also under ClusterIP Services, as CoreDNS answers them.
        var targets: [(endpoint: ServiceEndpoint, name: DNSName)] = []
        for endpoint in published {
            guard let name = base.child(endpoint.dnsLabel) else { continue }
            targets.append((endpoint, name))
            builder.add(name, [endpoint.address.addressRecord])
            builder.addReverse(endpoint.address, name)
        }

        // SRV: per named port under `_<port>._<proto>`, and every port on the bare name.
        let ports: [(name: String, proto: TransportProtocol, number: UInt16)]
        let srvTargets: [DNSName]
        if spec.isHeadless {
            ports = entry.endpointPorts.compactMap { port in port.port.map { (port.name, port.protocol, $0.value) } }
            var seen = Set<NameKey>()
            srvTargets = targets.map(\.name).filter { seen.insert(NameKey($0)).inserted }
        } else {
            ports = spec.ports.map { ($0.name, $0.protocol, $0.port.value) }
            srvTargets = [base]
        }
        let weight = UInt16(max(1, 100 / max(1, srvTargets.count)))
        var bare: [RData] = []
        for port in ports {
            let records = srvTargets.map { RData.srv(SRV(priority: 0, weight: weight, port: port.number, target: $0)) }
            bare += records
            guard !port.name.isEmpty,
                let portName = base.child("_" + port.proto.nftName)?.child("_" + port.name)
            else { continue }
            builder.add(portName, records)
        }
        builder.add(base, bare)
        return builder.result
    }
}

/// Collects contributions so that a name that several rules produce (two endpoints sharing a hostname)
/// becomes one record set, in first-seen order.
struct ContributionBuilder {
    private(set) var result: [ZoneIndex.Contribution] = []
    private var forward: [NameKey: Int] = [:]
    private var reverse: [NameKey: Int] = [:]

    mutating func add(_ name: DNSName, _ records: [RData]) {
        let key = NameKey(name)
        if let index = forward[key] {
            for record in records where !result[index].records.contains(record) { result[index].records.append(record) }
        } else {
            forward[key] = result.count
            result.append(ZoneIndex.Contribution(name: name, records: records))
        }
    }

    mutating func addReverse(_ address: IPAddress, _ target: DNSName) {
        let name = address.reverseName
        let key = NameKey(name)
        let record = RData.ptr(target)
        if let index = reverse[key] {
            if !result[index].records.contains(record) { result[index].records.append(record) }
        } else {
            reverse[key] = result.count
            result.append(ZoneIndex.Contribution(name: name, records: [record], isReverse: true))
        }
    }
}

extension ServiceEndpoint {
    /// The endpoint's label: its hostname, else its address with `.`/`:` as `-` and a trailing `-`
    /// completed with `0` (CoreDNS `endpointHostname`).
    var dnsLabel: String {
        if let hostname, !hostname.isEmpty { return hostname }
        let dashed = address.dashed
        return dashed.hasSuffix("-") ? dashed + "0" : dashed
    }
}

extension IPAddress {
    var addressRecord: RData {
        switch self {
        case .v4: return .a(self)
        case .v6: return .aaaa(self)
        }
    }

    /// `d.c.b.a.in-addr.arpa.`, or the 32 reversed nibbles under `ip6.arpa.`.
    var reverseName: DNSName {
        var labels: [[UInt8]] = []
        switch self {
        case .v4:
            labels = bytes.reversed().map { Array(String($0).utf8) }
            labels += [Array("in-addr".utf8), Array("arpa".utf8)]
        case .v6:
            let hex = Array("0123456789abcdef".utf8)
            for byte in bytes.reversed() {
                labels.append([hex[Int(byte & 0xf)]])
                labels.append([hex[Int(byte >> 4)]])
            }
            labels += [Array("ip6".utf8), Array("arpa".utf8)]
        }
        // 4 or 32 short labels plus the suffix always fit DNS limits.
        return (try? DNSName(labels: labels)) ?? .root
    }
}

extension DNSName {
    /// `label.self`, or nil when the label or the result would break DNS limits (the object is then not served).
    func child(_ label: String) -> DNSName? {
        try? prepending(label: Array(label.utf8))
    }
}
