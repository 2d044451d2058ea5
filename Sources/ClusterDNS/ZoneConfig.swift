/// What the cluster zone serves, from the daemon's `dns:` section.
public struct ZoneConfig: Hashable, Sendable {
    /// The cluster domain, `cluster.local` by default.
    public var zone: DNSName
    /// TTL of every record, and of the SOA on negative answers (capped at 300 there, as CoreDNS does).
    public var ttl: UInt32
    public var podRecords: PodRecords
    /// Walk a known pod's search list on the server (see ``ServerSideSearch``).
    public var serverSideSearch: Bool
    /// Search domains a pod gets after the cluster's three: kubelet appends the node's own search list.
    public var hostSearch: [DNSName]

    /// How `<a-b-c-d>.<ns>.pod.<zone>` is answered; CoreDNS's `pods` option.
    public enum PodRecords: String, Hashable, Sendable, CaseIterable {
        /// NXDOMAIN below `pod.<zone>`.
        case disabled
        /// Any well-formed address in a known namespace answers with itself (kube-dns compatible).
        case insecure
        /// Only addresses of pods in that namespace that kproxy knows.
        case verified
    }

    public init(
        zone: DNSName = ZoneConfig.defaultZone, ttl: UInt32 = 5, podRecords: PodRecords = .insecure,
        serverSideSearch: Bool = true, hostSearch: [DNSName] = []
    ) {
        self.zone = zone.lowercased()
        self.ttl = ttl
        self.podRecords = podRecords
        self.serverSideSearch = serverSideSearch
        self.hostSearch = hostSearch.map { $0.lowercased() }
    }

    public static let defaultZone = DNSName(uncheckedWire: [7] + Array("cluster".utf8) + [5] + Array("local".utf8))

    /// `<ns>.svc.<zone>`, `svc.<zone>`, `<zone>`, then the host's: what kubelet writes for a ClusterFirst pod.
    public func searchList(namespace: String) -> [DNSName] {
        let svc = zone.child("svc")
        var list = [svc?.child(namespace), svc, zone].compactMap { $0 }
        for domain in hostSearch where !list.contains(domain) { list.append(domain) }
        return list
    }
}
