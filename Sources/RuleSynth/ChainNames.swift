import ClusterModel
import KubeModel

/// kube-proxy's nftables names for per-Service objects, so operators find the same names in `nft list`.
enum ChainNames {
    /// knftables' `NameLengthMax` (256) minus kube-proxy's 16-character prefix budget.
    static let baseLengthMax = 240

    /// kube-proxy's `hashAndTruncate`: `base32(sha256(name))[:8] + "-" + name`, cut to 240 characters with
    /// a `...` ending. The hash keeps truncated names unique and near-identical names distinguishable.
    static func hashAndTruncate(_ name: String) -> String {
        let hash = SHA256.base32(SHA256.hash(name.utf8))
        let full = String(hash.prefix(8)) + "-" + sanitized(name)
        guard full.utf8.count > baseLengthMax else { return full }
        return String(decoding: full.utf8.prefix(baseLengthMax - 3), as: UTF8.self) + "..."
    }

    /// The API server only admits `[a-z0-9-]` in these names; anything else (from a hand-written manifest)
    /// becomes `_`, so a hostile name cannot break nft's syntax (in names and in element comments). The
    /// hash still covers the original.
    static func sanitized(_ name: String, extra: UInt8? = nil) -> String {
        let allowed = { (c: UInt8) -> Bool in
            (c >= 0x61 && c <= 0x7a) || (c >= 0x41 && c <= 0x5a) || (c >= 0x30 && c <= 0x39) || c == 0x2d
                || c == 0x2e || c == 0x2f || c == 0x5f || c == extra
        }
        if name.utf8.allSatisfy(allowed) { return name }
        return String(decoding: name.utf8.map { allowed($0) ? $0 : 0x5f }, as: UTF8.self)
    }

    /// `HASH-namespace/name/protocol/portName`.
    static func serviceBase(_ port: ServicePortName) -> String {
        hashAndTruncate("\(port.service.namespace)/\(port.service.name)/\(port.protocol.nftName)/\(port.port)")
    }

    /// `HASH-namespace/name/protocol/portName__IP/port`; IPv6 colons become dots, as chain names forbid them.
    static func endpointBase(_ port: ServicePortName, _ endpoint: ServiceEndpoint) -> String {
        let ip = endpoint.address.description.replacingOccurrences(of: ":", with: ".")
        return hashAndTruncate(
            "\(port.service.namespace)/\(port.service.name)/\(port.protocol.nftName)/\(port.port)__\(ip)/\(endpoint.port)")
    }

    static func affinity(_ port: ServicePortName, _ endpoint: ServiceEndpoint) -> String {
        "affinity-" + endpointBase(port, endpoint)
    }

    /// Per-Service chains contain a `/`; kproxy's fixed chains never do (kube-proxy's `isServiceChainName`).
    static func isServiceChain(_ name: String) -> Bool { name.contains("/") }
    static func isAffinitySet(_ name: String) -> Bool { name.hasPrefix("affinity-") }
}
