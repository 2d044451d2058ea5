import Foundation
import KubeModel
import Yams

/// Every problem found in a config file, each with its field path, reported together before anything starts.
public struct ConfigurationError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var problems: [String]

    public var description: String {
        "invalid configuration in \(file):\n" + problems.map { "  \($0)" }.joined(separator: "\n")
    }
}

extension Configuration {
    /// Reads a `KubeProxyConfiguration` YAML file.
    public static func load(file: String) throws(ConfigurationError) -> Configuration {
        guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8)
        else {
            throw ConfigurationError(file: file, problems: ["cannot be read"])
        }
        return try parse(text, file: file)
    }

    /// Parses the file's text. Top-level fields of kube-proxy that kproxy does not use are ignored, so an
    /// existing kube-proxy config carries over; unknown keys in kproxy's own `dns:` section are errors,
    /// since they can only be typos.
    public static func parse(_ text: String, file: String) throws(ConfigurationError) -> Configuration {
        let root: Yams.Node?
        do {
            root = try Yams.compose(yaml: text)
        } catch {
            throw ConfigurationError(file: file, problems: ["invalid YAML: \(error)"])
        }
        var reader = FieldReader()
        var config = Configuration()
        guard let root, case .mapping = root else {
            throw ConfigurationError(file: file, problems: ["the file must hold a KubeProxyConfiguration object"])
        }
        if let kind = root["kind"]?.string, kind != "KubeProxyConfiguration" {
            reader.problem("kind", "\(quoted: kind) is not KubeProxyConfiguration")
        }
        config.kubeconfig = reader.string(root["clientConnection"]?["kubeconfig"], "clientConnection.kubeconfig")
            .flatMap { $0.isEmpty ? nil : $0 }
        config.hostnameOverride = reader.string(root["hostnameOverride"], "hostnameOverride")
            .flatMap { $0.isEmpty ? nil : $0 }
        if let text = reader.string(root["bindAddress"], "bindAddress") {
            if let address = IPAddress(text) {
                config.bindAddress = address == .v4(0) || address == .v6(high: 0, low: 0) ? nil : address
            } else {
                reader.problem("bindAddress", "\(quoted: text) is not an IP address")
            }
        }
        for (key, path) in [(\Configuration.healthzBindAddress, "healthzBindAddress"),
                            (\Configuration.metricsBindAddress, "metricsBindAddress")] {
            if let text = reader.string(root[path], path) {
                if text.isEmpty {
                    config[keyPath: key] = nil
                } else if let value = HostPort(text) {
                    config[keyPath: key] = value
                } else {
                    reader.problem(path, "\(quoted: text) is not host:port")
                }
            }
        }
        if let text = reader.string(root["clusterCIDR"], "clusterCIDR") {
            config.clusterCIDRs = reader.cidrs(text.split(separator: ",").map(String.init), "clusterCIDR")
        }
        if let mode = reader.choice(root["detectLocalMode"], "detectLocalMode", DetectLocalMode.self) {
            config.detectLocalMode = mode
        }
        if let list = reader.strings(root["nodePortAddresses"], "nodePortAddresses") {
            config.nodePortAddresses = list.enumerated().compactMap { index, text in
                if text == "primary" { return .primary }
                guard let cidr = CIDR(text) else {
                    reader.problem("nodePortAddresses[\(index)]", "\(quoted: text) is neither a CIDR nor \"primary\"")
                    return nil
                }
                return .cidr(cidr)
            }
        }
        if let mode = reader.string(root["mode"], "mode"), !["", "nftables"].contains(mode) {
            reader.problem("mode", "\(quoted: mode) is not supported: kproxy only programs nftables")
        }
        if let nftables = root["nftables"] {
            if let bit = reader.int(nftables["masqueradeBit"], "nftables.masqueradeBit") {
                if (0...31).contains(bit) {
                    config.masqueradeBit = bit
                } else {
                    reader.problem("nftables.masqueradeBit", "\(bit) is not between 0 and 31")
                }
            }
            config.masqueradeAll = reader.bool(nftables["masqueradeAll"], "nftables.masqueradeAll") ?? false
            config.syncPeriod = reader.duration(nftables["syncPeriod"], "nftables.syncPeriod") ?? config.syncPeriod
            config.minSyncPeriod =
                reader.duration(nftables["minSyncPeriod"], "nftables.minSyncPeriod") ?? config.minSyncPeriod
            if config.syncPeriod <= .zero { reader.problem("nftables.syncPeriod", "must be greater than 0") }
            if config.minSyncPeriod > config.syncPeriod {
                reader.problem("nftables.minSyncPeriod", "must not be greater than nftables.syncPeriod")
            }
        }
        if let conntrack = root["conntrack"] {
            var c = config.conntrack
            c.maxPerCore = reader.int(conntrack["maxPerCore"], "conntrack.maxPerCore") ?? c.maxPerCore
            c.min = reader.int(conntrack["min"], "conntrack.min") ?? c.min
            for (key, name) in [(\Conntrack.tcpEstablishedTimeout, "tcpEstablishedTimeout"),
                                (\Conntrack.tcpCloseWaitTimeout, "tcpCloseWaitTimeout"),
                                (\Conntrack.udpTimeout, "udpTimeout"), (\Conntrack.udpStreamTimeout, "udpStreamTimeout")] {
                if let value = reader.duration(conntrack[name], "conntrack.\(name)") { c[keyPath: key] = value }
            }
            if c.maxPerCore < 0 { reader.problem("conntrack.maxPerCore", "must not be negative") }
            if c.min < 0 { reader.problem("conntrack.min", "must not be negative") }
            config.conntrack = c
        }
        if let dns = root["dns"] {
            config.dns = parseDNS(dns, defaults: config.dns, reader: &reader)
        }
        guard reader.problems.isEmpty else { throw ConfigurationError(file: file, problems: reader.problems) }
        return config
    }

    static let dnsKeys: Set<String> = [
        "zone", "listen", "ttl", "podRecords", "serverSideSearch", "resolvConf", "upstreams",
        "recursionAllowedCIDRs", "cacheSize",
    ]

    static func parseDNS(_ node: Yams.Node, defaults: DNS, reader: inout FieldReader) -> DNS {
        var dns = defaults
        guard case .mapping(let mapping) = node else {
            reader.problem("dns", "must be an object")
            return dns
        }
        for key in mapping.keys.compactMap(\.string) where !dnsKeys.contains(key) {
            reader.problem("dns.\(key)", "is not a known field (known: \(dnsKeys.sorted().joined(separator: ", ")))")
        }
        if let zone = reader.string(node["zone"], "dns.zone") {
            let trimmed = zone.hasSuffix(".") ? String(zone.dropLast()) : zone
            if trimmed.isEmpty || trimmed.count > 253 || trimmed.split(separator: ".", omittingEmptySubsequences: false)
                .contains(where: { $0.isEmpty || $0.count > 63 })
            {
                reader.problem("dns.zone", "\(quoted: zone) is not a valid domain name")
            } else {
                dns.zone = trimmed.lowercased()
            }
        }
        if let list = reader.strings(node["listen"], "dns.listen") {
            dns.listen = list.enumerated().compactMap { index, text in
                guard let value = HostPort(text, defaultPort: 53), IPAddress(value.host) != nil else {
                    reader.problem("dns.listen[\(index)]", "\(quoted: text) is not IP:port")
                    return nil
                }
                return value
            }
        }
        if let ttl = reader.int(node["ttl"], "dns.ttl") {
            if (0...86400).contains(ttl) { dns.ttl = UInt32(ttl) } else { reader.problem("dns.ttl", "\(ttl) is not between 0 and 86400") }
        }
        if let mode = reader.choice(node["podRecords"], "dns.podRecords", DNS.PodRecords.self) { dns.podRecords = mode }
        dns.serverSideSearch = reader.bool(node["serverSideSearch"], "dns.serverSideSearch") ?? dns.serverSideSearch
        dns.resolvConf = reader.string(node["resolvConf"], "dns.resolvConf") ?? dns.resolvConf
        if let list = reader.strings(node["upstreams"], "dns.upstreams") {
            dns.upstreams = list.enumerated().compactMap { index, text in
                guard let value = HostPort(text, defaultPort: 53), IPAddress(value.host) != nil else {
                    reader.problem("dns.upstreams[\(index)]", "\(quoted: text) is not IP or IP:port")
                    return nil
                }
                return value
            }
        }
        if let list = reader.strings(node["recursionAllowedCIDRs"], "dns.recursionAllowedCIDRs") {
            dns.recursionAllowedCIDRs = reader.cidrs(list, "dns.recursionAllowedCIDRs")
        }
        if let size = reader.int(node["cacheSize"], "dns.cacheSize") {
            if size >= 0 { dns.cacheSize = size } else { reader.problem("dns.cacheSize", "must not be negative") }
        }
        return dns
    }
}

/// Reads typed scalars out of a YAML tree, recording a problem with its field path instead of stopping.
struct FieldReader {
    var problems: [String] = []

    mutating func problem(_ path: String, _ message: String) { problems.append("\(path): \(message)") }

    mutating func string(_ node: Yams.Node?, _ path: String) -> String? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node else {
            problem(path, "must be a string")
            return nil
        }
        return scalar.string
    }

    mutating func int(_ node: Yams.Node?, _ path: String) -> Int? {
        guard let text = string(node, path) else { return nil }
        guard let value = Int(text) else {
            problem(path, "\(quoted: text) is not an integer")
            return nil
        }
        return value
    }

    mutating func bool(_ node: Yams.Node?, _ path: String) -> Bool? {
        guard let text = string(node, path) else { return nil }
        switch text {
        case "true", "True", "TRUE": return true
        case "false", "False", "FALSE": return false
        default:
            problem(path, "\(quoted: text) is not true or false")
            return nil
        }
    }

    mutating func duration(_ node: Yams.Node?, _ path: String) -> Duration? {
        guard let text = string(node, path) else { return nil }
        guard let value = GoDuration.parse(text) else {
            problem(path, "\(quoted: text) is not a duration like 30s, 1m or 1h0m0s")
            return nil
        }
        return value
    }

    mutating func choice<T: RawRepresentable & CaseIterable>(_ node: Yams.Node?, _ path: String, _ type: T.Type) -> T?
    where T.RawValue == String {
        guard let text = string(node, path), !text.isEmpty else { return nil }
        guard let value = T(rawValue: text) else {
            problem(path, "\(quoted: text) is not one of \(T.allCases.map(\.rawValue).joined(separator: ", "))")
            return nil
        }
        return value
    }

    mutating func strings(_ node: Yams.Node?, _ path: String) -> [String]? {
        guard let node else { return nil }
        if case .scalar(let scalar) = node, scalar.string.isEmpty || scalar.string == "null" { return [] }
        guard case .sequence(let sequence) = node else {
            problem(path, "must be a list")
            return nil
        }
        return sequence.enumerated().compactMap { index, item in string(item, "\(path)[\(index)]") }
    }

    mutating func cidrs(_ texts: [String], _ path: String) -> [CIDR] {
        texts.enumerated().compactMap { index, raw in
            let text = raw.trimmingCharacters(in: .whitespaces)
            guard let cidr = CIDR(text) else {
                problem("\(path)[\(index)]", "\(quoted: text) is not a valid CIDR")
                return nil
            }
            return cidr
        }
    }
}
