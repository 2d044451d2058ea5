import KubeModel

/// Merges the slices of one Service into endpoints per Service port, the way kube-proxy's slice cache does.
enum EndpointMerger {
    struct Result {
        var byPort: [ServicePortName: [ServiceEndpoint]] = [:]
        var addresses = ServiceAddresses()
    }

    /// Slices must come sorted by name so that the first-seen duplicate is stable.
    static func merge(_ slices: [EndpointSlice], service: ServiceKey) -> Result {
        var result = Result()
        var byPort: [ServicePortName: [String: ServiceEndpoint]] = [:]
        var byAddress: [IPAddress: ServiceEndpoint] = [:]
        var ports: [String: EndpointSlice.EndpointPort] = [:]

        for slice in slices {
            guard let family = slice.addressType.ipFamily else { continue }
            // Headless slices only feed DNS: there are no rules for headless Services.
            let forRules = slice.metadata.labels[ClusterState.headlessLabel] == nil
            for port in slice.ports where port.port != nil {
                ports["\(port.name)/\(port.protocol.rawValue)"] = ports["\(port.name)/\(port.protocol.rawValue)"] ?? port
            }
            for endpoint in slice.endpoints {
                // kube-proxy uses only the first address; the API requires exactly one for IP slices.
                guard let text = endpoint.addresses.first, let address = IPAddress(text), address.family == family
                else { continue }
                let base = ServiceEndpoint(
                    address: address, port: 0, ready: endpoint.ready, serving: endpoint.serving,
                    terminating: endpoint.terminating, nodeName: endpoint.nodeName, zone: endpoint.zone,
                    hostname: endpoint.hostname, zoneHints: endpoint.zoneHints, nodeHints: endpoint.nodeHints,
                    targetRef: endpoint.targetRef.flatMap { ref in
                        ref.name.map { name in ref.namespace.map { "\($0)/\(name)" } ?? name }
                    })
                byAddress[address] = preferred(byAddress[address], base)
                guard forRules else { continue }
                for port in slice.ports {
                    guard let number = port.port else { continue }
                    let name = ServicePortName(service: service, port: port.name, protocol: port.protocol)
                    var withPort = base
                    withPort.port = number.value
                    let id = withPort.description
                    byPort[name, default: [:]][id] = preferred(byPort[name]?[id], withPort)
                }
            }
        }
        for (name, endpoints) in byPort { result.byPort[name] = endpoints.values.sorted() }
        result.addresses.endpoints = byAddress.values.sorted()
        result.addresses.ports = ports.values.sorted { ($0.name, $0.protocol) < ($1.name, $1.protocol) }
        return result
    }

    /// Duplicates across slices happen during rollouts; the ready copy wins, otherwise the first seen.
    static func preferred(_ existing: ServiceEndpoint?, _ candidate: ServiceEndpoint) -> ServiceEndpoint {
        guard let existing else { return candidate }
        return !existing.ready && candidate.ready ? candidate : existing
    }
}

extension EndpointSlice.AddressType {
    /// The IP family of an address slice; FQDN slices have none and kube-proxy ignores them.
    var ipFamily: IPAddress.Family? {
        switch self {
        case .ipv4: return .ipv4
        case .ipv6: return .ipv6
        case .fqdn: return nil
        }
    }
}
