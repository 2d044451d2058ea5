import ClusterModel
import KubeModel

/// What one `healthCheckNodePort` answers: the Service it belongs to and its local endpoint count.
public struct ServiceHealthCheck: Hashable, Sendable {
    public var service: ServiceKey
    public var localEndpoints: Int

    public init(service: ServiceKey, localEndpoints: Int) {
        self.service = service
        self.localEndpoints = localEndpoints
    }

    /// kube-proxy's body, so load balancers and scripts that parse it keep working.
    public func response(proxyHealthy: Bool) -> StatusResponse {
        let body = """
            {
            \t"service": {
            \t\t"namespace": "\(service.namespace)",
            \t\t"name": "\(service.name)"
            \t},
            \t"localEndpoints": \(localEndpoints),
            \t"serviceProxyHealthy": \(proxyHealthy)
            }
            """
        let healthy = localEndpoints > 0 && proxyHealthy
        return StatusResponse(
            status: healthy ? .ok : .serviceUnavailable, contentType: "application/json", body: body)
    }

    /// The health checks a snapshot asks for, by node port: LoadBalancers with `externalTrafficPolicy: Local`.
    ///
    /// Like kube-proxy's `LocalReadyEndpoints`, the count adds up local ready endpoints over all of a
    /// Service's ports.
    public static func desired(in snapshot: ClusterSnapshot) -> [UInt16: ServiceHealthCheck] {
        var result: [UInt16: ServiceHealthCheck] = [:]
        for port in snapshot.servicePorts.values where port.proxied {
            guard let nodePort = port.healthCheckNodePort else { continue }
            let local = snapshot.endpoints(for: port.name).filter { $0.ready && $0.isLocal(to: snapshot.nodeName) }.count
            result[nodePort, default: ServiceHealthCheck(service: port.name.service, localEndpoints: 0)]
                .localEndpoints += local
        }
        return result
    }
}
