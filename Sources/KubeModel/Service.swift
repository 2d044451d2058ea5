import Foundation

/// A core/v1 Service, reduced to what rule synthesis and DNS read.
public struct Service: Decodable, Hashable, Sendable {
    public var metadata: ObjectMeta
    public var spec: ServiceSpec
    public var status: ServiceStatus

    public init(metadata: ObjectMeta, spec: ServiceSpec, status: ServiceStatus = ServiceStatus()) {
        self.metadata = metadata
        self.spec = spec
        self.status = status
    }

    enum CodingKeys: String, CodingKey { case metadata, spec, status }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        metadata = try c.decode(ObjectMeta.self, forKey: .metadata)
        spec = try c.decode(ServiceSpec.self, forKey: .spec)
        status = try c.decodeIfPresent(ServiceStatus.self, forKey: .status) ?? ServiceStatus()
    }
}

public enum ServiceType: String, Decodable, Hashable, Sendable, CaseIterable {
    case clusterIP = "ClusterIP"
    case nodePort = "NodePort"
    case loadBalancer = "LoadBalancer"
    case externalName = "ExternalName"
}

public enum TrafficPolicy: String, Decodable, Hashable, Sendable, CaseIterable {
    case cluster = "Cluster"
    case local = "Local"
}

public enum IPFamilyPolicy: String, Decodable, Hashable, Sendable, CaseIterable {
    case singleStack = "SingleStack"
    case preferDualStack = "PreferDualStack"
    case requireDualStack = "RequireDualStack"
}

public enum SessionAffinity: String, Decodable, Hashable, Sendable, CaseIterable {
    case none = "None"
    case clientIP = "ClientIP"
}

public struct ServiceSpec: Decodable, Hashable, Sendable {
    public var type: ServiceType
    /// Allocated cluster IPs, primary first; empty for headless and ExternalName Services.
    public var clusterIPs: [IPAddress]
    /// `clusterIP: None`: DNS answers with endpoints and no rules are programmed.
    public var isHeadless: Bool
    public var ipFamilies: [IPAddress.Family]
    public var ipFamilyPolicy: IPFamilyPolicy?
    public var ports: [ServicePort]
    public var externalIPs: [IPAddress]
    public var sessionAffinity: SessionAffinity
    /// ClientIP affinity timeout; the API defaults it to 10800 s (3 h).
    public var sessionAffinityTimeoutSeconds: Int
    public var externalTrafficPolicy: TrafficPolicy
    public var internalTrafficPolicy: TrafficPolicy
    public var healthCheckNodePort: PortNumber?
    public var loadBalancerSourceRanges: [CIDR]
    public var externalName: String?
    public var publishNotReadyAddresses: Bool
    public var trafficDistribution: String?

    public init(
        type: ServiceType = .clusterIP, clusterIPs: [IPAddress] = [], isHeadless: Bool = false,
        ports: [ServicePort] = [], externalIPs: [IPAddress] = [], sessionAffinity: SessionAffinity = .none,
        sessionAffinityTimeoutSeconds: Int = 10800, externalTrafficPolicy: TrafficPolicy = .cluster,
        internalTrafficPolicy: TrafficPolicy = .cluster, healthCheckNodePort: PortNumber? = nil,
        loadBalancerSourceRanges: [CIDR] = [], externalName: String? = nil, publishNotReadyAddresses: Bool = false,
        trafficDistribution: String? = nil
    ) {
        self.type = type
        self.clusterIPs = clusterIPs
        self.isHeadless = isHeadless
        self.ipFamilies = clusterIPs.map(\.family)
        self.ports = ports
        self.externalIPs = externalIPs
        self.sessionAffinity = sessionAffinity
        self.sessionAffinityTimeoutSeconds = sessionAffinityTimeoutSeconds
        self.externalTrafficPolicy = externalTrafficPolicy
        self.internalTrafficPolicy = internalTrafficPolicy
        self.healthCheckNodePort = healthCheckNodePort
        self.loadBalancerSourceRanges = loadBalancerSourceRanges
        self.externalName = externalName
        self.publishNotReadyAddresses = publishNotReadyAddresses
        self.trafficDistribution = trafficDistribution
    }

    enum CodingKeys: String, CodingKey {
        case type, clusterIP, clusterIPs, ipFamilies, ipFamilyPolicy, ports, externalIPs, sessionAffinity
        case sessionAffinityConfig, externalTrafficPolicy, internalTrafficPolicy, healthCheckNodePort
        case loadBalancerSourceRanges, externalName, publishNotReadyAddresses, trafficDistribution
    }

    enum AffinityKeys: String, CodingKey { case clientIP }
    enum ClientIPKeys: String, CodingKey { case timeoutSeconds }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        type = try c.decodeChoice(ServiceType.self, forKey: .type) ?? .clusterIP

        // clusterIPs wins over clusterIP; both may say "None" (headless) or be empty (ExternalName).
        let ipTexts: [String]
        let ipKey: CodingKeys
        if let list = try c.decodeIfPresent([String].self, forKey: .clusterIPs), !list.isEmpty {
            ipTexts = list
            ipKey = .clusterIPs
        } else {
            ipTexts = (try c.decodeIfPresent(String.self, forKey: .clusterIP)).map { [$0] } ?? []
            ipKey = .clusterIP
        }
        isHeadless = ipTexts.first == "None"
        var addresses: [IPAddress] = []
        if !isHeadless {
            for text in ipTexts where !text.isEmpty {
                guard let address = IPAddress(text) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: ipKey, in: c, debugDescription: "\(quoted: text) is not a valid IP address")
                }
                addresses.append(address)
            }
        }
        clusterIPs = addresses
        ipFamilies = try c.decodeIfPresent([IPAddress.Family].self, forKey: .ipFamilies) ?? addresses.map(\.family)
        ipFamilyPolicy = try c.decodeChoice(IPFamilyPolicy.self, forKey: .ipFamilyPolicy)
        ports = try c.decodeIfPresent([ServicePort].self, forKey: .ports) ?? []
        externalIPs = try c.decodeIfPresent([IPAddress].self, forKey: .externalIPs) ?? []
        sessionAffinity = try c.decodeChoice(SessionAffinity.self, forKey: .sessionAffinity) ?? .none
        sessionAffinityTimeoutSeconds = 10800
        if c.contains(.sessionAffinityConfig),
            let affinity = try? c.nestedContainer(keyedBy: AffinityKeys.self, forKey: .sessionAffinityConfig),
            affinity.contains(.clientIP)
        {
            let clientIP = try affinity.nestedContainer(keyedBy: ClientIPKeys.self, forKey: .clientIP)
            if let timeout = try clientIP.decodeIfPresent(Int.self, forKey: .timeoutSeconds) {
                guard (1...86400).contains(timeout) else {
                    throw DecodingError.dataCorruptedError(
                        forKey: .timeoutSeconds, in: clientIP,
                        debugDescription: "\(timeout) is not between 1 and 86400 seconds")
                }
                sessionAffinityTimeoutSeconds = timeout
            }
        }
        // "Global" is the pre-1.21 spelling of Cluster; the API server still accepts it on old objects.
        if let raw = try c.decodeIfPresent(String.self, forKey: .externalTrafficPolicy), raw == "Global" {
            externalTrafficPolicy = .cluster
        } else {
            externalTrafficPolicy = try c.decodeChoice(TrafficPolicy.self, forKey: .externalTrafficPolicy) ?? .cluster
        }
        internalTrafficPolicy = try c.decodeChoice(TrafficPolicy.self, forKey: .internalTrafficPolicy) ?? .cluster
        healthCheckNodePort = try c.decodeIfPresent(PortNumber.self, forKey: .healthCheckNodePort)
        // The API server accepts surrounding spaces here and kube-proxy trims them.
        let rangeTexts = try c.decodeIfPresent([String].self, forKey: .loadBalancerSourceRanges) ?? []
        loadBalancerSourceRanges = try rangeTexts.map { text in
            guard let cidr = CIDR(text.trimmingCharacters(in: .whitespaces)) else {
                throw DecodingError.dataCorruptedError(
                    forKey: .loadBalancerSourceRanges, in: c, debugDescription: "\(quoted: text) is not a valid CIDR")
            }
            return cidr
        }
        externalName = try c.decodeIfPresent(String.self, forKey: .externalName)
        publishNotReadyAddresses = try c.decodeIfPresent(Bool.self, forKey: .publishNotReadyAddresses) ?? false
        trafficDistribution = try c.decodeIfPresent(String.self, forKey: .trafficDistribution)
        if type == .externalName && (externalName ?? "").isEmpty {
            throw DecodingError.dataCorruptedError(
                forKey: .externalName, in: c, debugDescription: "is required for type ExternalName")
        }
    }
}

public struct ServicePort: Decodable, Hashable, Sendable {
    public var name: String
    public var `protocol`: TransportProtocol
    public var port: PortNumber
    public var targetPort: IntOrString?
    public var nodePort: PortNumber?

    public init(
        name: String = "", protocol: TransportProtocol = .tcp, port: PortNumber, targetPort: IntOrString? = nil,
        nodePort: PortNumber? = nil
    ) {
        self.name = name
        self.protocol = `protocol`
        self.port = port
        self.targetPort = targetPort
        self.nodePort = nodePort
    }

    enum CodingKeys: String, CodingKey { case name, `protocol`, port, targetPort, nodePort }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decodeIfPresent(String.self, forKey: .name) ?? ""
        `protocol` = try c.decodeChoice(TransportProtocol.self, forKey: .protocol) ?? .tcp
        port = try c.decode(PortNumber.self, forKey: .port)
        targetPort = try c.decodeIfPresent(IntOrString.self, forKey: .targetPort)
        // The API server may serialise an unallocated nodePort as 0.
        if let raw = try c.decodeIfPresent(Int64.self, forKey: .nodePort), raw != 0 {
            nodePort = try c.decode(PortNumber.self, forKey: .nodePort)
        } else {
            nodePort = nil
        }
    }
}

public struct ServiceStatus: Decodable, Hashable, Sendable {
    public var loadBalancerIngress: [LoadBalancerIngress]

    public init(loadBalancerIngress: [LoadBalancerIngress] = []) {
        self.loadBalancerIngress = loadBalancerIngress
    }

    enum CodingKeys: String, CodingKey { case loadBalancer }
    enum LoadBalancerKeys: String, CodingKey { case ingress }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard c.contains(.loadBalancer) else {
            loadBalancerIngress = []
            return
        }
        let lb = try c.nestedContainer(keyedBy: LoadBalancerKeys.self, forKey: .loadBalancer)
        loadBalancerIngress = try lb.decodeIfPresent([LoadBalancerIngress].self, forKey: .ingress) ?? []
    }
}

public struct LoadBalancerIngress: Decodable, Hashable, Sendable {
    public var ip: IPAddress?
    public var hostname: String?
    /// `Proxy` means the load balancer does not preserve the destination IP, so kube-proxy programs no rule for it.
    public var ipMode: String?

    public init(ip: IPAddress?, hostname: String? = nil, ipMode: String? = nil) {
        self.ip = ip
        self.hostname = hostname
        self.ipMode = ipMode
    }
}
