import ClusterModel
import KubeModel

/// Renders a snapshot for `kproxy inspect`: what an operator needs to see why traffic goes where it goes.
enum ModelReport {
    /// - Parameter only: restrict the Services printed (the node line is always first).
    static func render(_ snapshot: ClusterSnapshot, only: Set<ServiceKey>? = nil) -> String {
        var out = ""
        let node = snapshot.localNode
        let zone = node?.zone
        out += "node \(snapshot.nodeName)"
        if let node {
            out += " zone=\(zone ?? "-") ips=\(list(node.ips)) podCIDRs=\(list(node.podCIDRs))"
        } else {
            out += " (no Node object)"
        }
        out += "\n"

        for entry in snapshot.services.values.sorted(by: { $0.key < $1.key }) where only?.contains(entry.key) ?? true {
            out += "\nservice \(entry.key) type=\(entry.spec.type.rawValue)"
            if entry.spec.isHeadless { out += " headless" }
            if let name = entry.spec.externalName { out += " externalName=\(name)" }
            if !entry.proxied { out += " not-proxied" }
            out += "\n"
            let ports = snapshot.servicePorts.values.filter { $0.name.service == entry.key }.sorted { $0.name < $1.name }
            for port in ports {
                out += describe(port)
                let endpoints = snapshot.endpoints(for: port.name)
                let categories = EndpointCategorizer.categorize(
                    endpoints, for: port, nodeName: snapshot.nodeName, zone: zone)
                out += "    categories: cluster=\(list(categories.cluster)) local=\(list(categories.local))"
                out += " topology=\(categories.topologyMode?.rawValue ?? "none")"
                out += categories.hasAnyEndpoints ? "\n" : " (no endpoints: reject)\n"
                for endpoint in endpoints { out += "    endpoint " + describe(endpoint, node: snapshot.nodeName) + "\n" }
            }
            if ports.isEmpty {
                for endpoint in entry.endpoints {
                    out += "  address " + describe(endpoint, node: snapshot.nodeName) + "\n"
                }
            }
        }
        return out
    }

    static func describe(_ port: ServicePortInfo) -> String {
        var line = "  port \(port.name.port.isEmpty ? "-" : port.name.port) \(port.port)/\(port.name.protocol.rawValue)"
        line += " clusterIPs=\(list(port.clusterIPs))"
        if let nodePort = port.nodePort { line += " nodePort=\(nodePort)" }
        if !port.externalIPs.isEmpty { line += " externalIPs=\(list(port.externalIPs))" }
        if !port.loadBalancerIPs.isEmpty { line += " loadBalancerIPs=\(list(port.loadBalancerIPs))" }
        if !port.loadBalancerSourceRanges.isEmpty { line += " sourceRanges=\(list(port.loadBalancerSourceRanges))" }
        if let timeout = port.sessionAffinityTimeout { line += " affinity=ClientIP/\(timeout)s" }
        line += " externalPolicy=\(port.externalPolicyLocal ? "Local" : "Cluster")"
        line += " internalPolicy=\(port.internalPolicyLocal ? "Local" : "Cluster")"
        if let health = port.healthCheckNodePort { line += " healthCheckNodePort=\(health)" }
        if let distribution = port.trafficDistribution { line += " trafficDistribution=\(distribution)" }
        return line + "\n"
    }

    static func describe(_ endpoint: ServiceEndpoint, node: String) -> String {
        var flags: [String] = []
        flags.append(endpoint.ready ? "ready" : "not-ready")
        if endpoint.serving { flags.append("serving") }
        if endpoint.terminating { flags.append("terminating") }
        if endpoint.isLocal(to: node) { flags.append("local") }
        var line = "\(endpoint.port == 0 ? endpoint.address.description : endpoint.description) \(flags.joined(separator: ","))"
        if let nodeName = endpoint.nodeName { line += " node=\(nodeName)" }
        if let zone = endpoint.zone { line += " zone=\(zone)" }
        if let hostname = endpoint.hostname { line += " hostname=\(hostname)" }
        if !endpoint.zoneHints.isEmpty { line += " hints=\(endpoint.zoneHints.joined(separator: ","))" }
        if let ref = endpoint.targetRef { line += " pod=\(ref)" }
        return line
    }

    static func list(_ items: [some CustomStringConvertible]) -> String {
        items.isEmpty ? "[]" : "[" + items.map(\.description).joined(separator: ",") + "]"
    }
}
