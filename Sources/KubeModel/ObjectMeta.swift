/// The parts of `metadata` that kproxy reads.
public struct ObjectMeta: Decodable, Hashable, Sendable {
    public var name: String
    public var namespace: String
    public var uid: String?
    public var resourceVersion: String?
    public var generation: Int64?
    public var labels: [String: String]
    public var annotations: [String: String]
    /// Kept as the API's RFC 3339 text: kproxy only tests for presence and never does date arithmetic on it.
    public var deletionTimestamp: String?

    public init(
        name: String, namespace: String = "", labels: [String: String] = [:], annotations: [String: String] = [:],
        resourceVersion: String? = nil
    ) {
        self.name = name
        self.namespace = namespace
        self.labels = labels
        self.annotations = annotations
        self.resourceVersion = resourceVersion
    }

    enum CodingKeys: String, CodingKey {
        case name, namespace, uid, resourceVersion, generation, labels, annotations, deletionTimestamp
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        guard !name.isEmpty else {
            throw DecodingError.dataCorruptedError(forKey: .name, in: c, debugDescription: "must not be empty")
        }
        namespace = try c.decodeIfPresent(String.self, forKey: .namespace) ?? ""
        uid = try c.decodeIfPresent(String.self, forKey: .uid)
        resourceVersion = try c.decodeIfPresent(String.self, forKey: .resourceVersion)
        generation = try c.decodeIfPresent(Int64.self, forKey: .generation)
        labels = try c.decodeIfPresent([String: String].self, forKey: .labels) ?? [:]
        annotations = try c.decodeIfPresent([String: String].self, forKey: .annotations) ?? [:]
        deletionTimestamp = try c.decodeIfPresent(String.self, forKey: .deletionTimestamp)
    }

    /// `namespace/name`, or just the name for cluster-scoped objects; used in every error message.
    public var qualifiedName: String { namespace.isEmpty ? name : "\(namespace)/\(name)" }
}

/// `metadata` of a list response: the resourceVersion a watch continues from.
public struct ListMeta: Decodable, Hashable, Sendable {
    public var resourceVersion: String?
    public var `continue`: String?

    public init(resourceVersion: String? = nil, continue: String? = nil) {
        self.resourceVersion = resourceVersion
        self.continue = `continue`
    }
}

/// A port number, 1–65535, rejected with the API server's wording when out of range.
public struct PortNumber: Decodable, Hashable, Sendable, Comparable, CustomStringConvertible,
    ExpressibleByIntegerLiteral
{
    public let value: UInt16

    public init?(_ value: Int) {
        guard (1...65535).contains(value) else { return nil }
        self.value = UInt16(value)
    }

    public init(integerLiteral value: UInt16) {
        precondition(value != 0, "port 0 is not a valid port")
        self.value = value
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let raw = try container.decode(Int64.self)
        guard (1...65535).contains(raw) else {
            throw DecodingError.dataCorruptedError(in: container, debugDescription: "\(raw) is not a valid port")
        }
        value = UInt16(raw)
    }

    public var description: String { String(value) }
    public static func < (lhs: PortNumber, rhs: PortNumber) -> Bool { lhs.value < rhs.value }
}

/// Kubernetes' IntOrString, as used by `targetPort`.
public enum IntOrString: Decodable, Hashable, Sendable, CustomStringConvertible {
    case int(Int)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if let number = try? container.decode(Int.self) {
            self = .int(number)
        } else {
            self = .string(try container.decode(String.self))
        }
    }

    public var description: String {
        switch self {
        case .int(let value): return String(value)
        case .string(let value): return value
        }
    }
}

/// Transport protocols a Service port can carry.
public enum TransportProtocol: String, Decodable, Hashable, Sendable, CaseIterable, Comparable {
    case tcp = "TCP"
    case udp = "UDP"
    case sctp = "SCTP"

    /// The lower-case name nftables and chain names use.
    public var nftName: String { rawValue.lowercased() }

    /// The IANA protocol number, as `meta l4proto` compares it.
    public var number: UInt8 {
        switch self {
        case .tcp: return 6
        case .udp: return 17
        case .sctp: return 132
        }
    }

    public static func < (lhs: TransportProtocol, rhs: TransportProtocol) -> Bool { lhs.number < rhs.number }
}

extension KeyedDecodingContainer {
    /// Decodes an enum-like string with an error that lists what is allowed, so a typo is obvious.
    func decodeChoice<T: RawRepresentable & CaseIterable>(_ type: T.Type, forKey key: Key) throws -> T?
    where T.RawValue == String {
        guard let raw = try decodeIfPresent(String.self, forKey: key) else { return nil }
        guard let value = T(rawValue: raw) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
            throw DecodingError.dataCorruptedError(
                forKey: key, in: self, debugDescription: "\(quoted: raw) is not one of \(allowed)")
        }
        return value
    }
}
