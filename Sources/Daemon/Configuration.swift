import KubeModel

/// kproxy's configuration: kube-proxy's `KubeProxyConfiguration` fields that apply, plus a `dns:` section.
public struct Configuration: Hashable, Sendable {
    /// Empty means in-cluster configuration from the ServiceAccount mount.
    public var kubeconfig: String?
    public var hostnameOverride: String?
    public var bindAddress: IPAddress?
    public var healthzBindAddress: HostPort? = HostPort(host: "0.0.0.0", port: 10256)
    public var metricsBindAddress: HostPort? = HostPort(host: "127.0.0.1", port: 10249)
    public var clusterCIDRs: [CIDR] = []
    public var detectLocalMode: DetectLocalMode = .clusterCIDR
    public var nodePortAddresses: [NodePortAddress] = [.primary]
    public var masqueradeBit: Int = 14
    public var masqueradeAll = false
    public var syncPeriod: Duration = .seconds(30)
    public var minSyncPeriod: Duration = .seconds(1)
    public var conntrack = Conntrack()
    public var dns = DNS()

    public init() {}

    public enum DetectLocalMode: String, Hashable, Sendable, CaseIterable {
        case clusterCIDR = "ClusterCIDR"
        case nodeCIDR = "NodeCIDR"
    }

    /// Which node addresses accept NodePort traffic.
    public enum NodePortAddress: Hashable, Sendable, CustomStringConvertible {
        /// The node's primary IP of each family: kube-proxy's nftables default.
        case primary
        case cidr(CIDR)

        public var description: String {
            switch self {
            case .primary: return "primary"
            case .cidr(let cidr): return cidr.description
            }
        }
    }

    public struct Conntrack: Hashable, Sendable {
        public var maxPerCore: Int = 32768
        public var min: Int = 131072
        public var tcpEstablishedTimeout: Duration = .seconds(86400)
        public var tcpCloseWaitTimeout: Duration = .seconds(3600)
        public var udpTimeout: Duration = .zero
        public var udpStreamTimeout: Duration = .zero

        public init() {}
    }

    public struct DNS: Hashable, Sendable {
        public var zone = "cluster.local"
        public var listen: [HostPort] = [HostPort(host: "169.254.20.10", port: 53)]
        public var ttl: UInt32 = 5
        public var podRecords: PodRecords = .insecure
        public var serverSideSearch = true
        public var resolvConf = "/etc/resolv.conf"
        public var upstreams: [HostPort] = []
        /// Empty means loopback plus the cluster CIDRs.
        public var recursionAllowedCIDRs: [CIDR] = []
        public var cacheSize = 10000

        public init() {}

        public enum PodRecords: String, Hashable, Sendable, CaseIterable {
            case insecure
            case verified
            case disabled
        }
    }

    /// The mark bit as a mask, e.g. bit 14 → 0x4000.
    public var masqueradeMark: UInt32 { 1 << UInt32(masqueradeBit) }

    /// kube-proxy waits two sync periods for a queued change before reporting unhealthy.
    public var healthTimeout: Duration { syncPeriod * 2 }
}

/// `host:port` or `[v6]:port`, as the bind-address fields take them.
public struct HostPort: Hashable, Sendable, CustomStringConvertible {
    public var host: String
    public var port: UInt16

    public init(host: String, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `1.2.3.4:53`, `[::1]:53`, or, with a default port, a bare address.
    public init?(_ text: String, defaultPort: UInt16? = nil) {
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return nil }
            let host = String(text[text.index(after: text.startIndex)..<close])
            let rest = text[text.index(after: close)...]
            guard IPAddress(host) != nil else { return nil }
            if rest.isEmpty, let defaultPort {
                self.init(host: host, port: defaultPort)
                return
            }
            guard rest.hasPrefix(":"), let port = UInt16(rest.dropFirst()) else { return nil }
            self.init(host: host, port: port)
            return
        }
        if IPAddress(text) != nil, let defaultPort {
            self.init(host: text, port: defaultPort)
            return
        }
        guard let colon = text.lastIndex(of: ":"), let port = UInt16(text[text.index(after: colon)...]) else {
            return nil
        }
        let host = String(text[..<colon])
        guard !host.isEmpty, !host.contains(":") else { return nil }
        self.init(host: host, port: port)
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
