import KubeModel

/// A failed API request, worded so an operator knows what to fix. None of these ever carries a token.
///
/// All are retried with backoff by the reflectors; none stops the daemon.
public enum KubeClientError: Error, Hashable, Sendable, CustomStringConvertible {
    /// 401: the server rejected the credential. `credential` says which file it came from.
    case unauthorized(credential: String, message: String)
    /// 403: RBAC denied the request. `message` is the server's, naming the user, verb and resource.
    case forbidden(message: String)
    /// 410: the resourceVersion is too old (compacted); the reflector re-lists.
    case expired(message: String)
    /// Any other non-success status.
    case status(code: Int, reason: String, message: String, path: String)
    /// The TLS handshake failed: usually the server's certificate does not chain to the configured CA.
    case tls(server: String, caSource: String, detail: String)
    /// Nothing listens at the server's address.
    case connectionRefused(host: String, port: Int)
    /// The server accepted the connection but sent no response head in time.
    case noResponse(server: String, seconds: Int)
    /// An open stream went silent for longer than the idle timeout.
    case idleTimeout(server: String, seconds: Int)
    /// The body could not be read as the API's JSON (garbage, a cut stream, an oversized object).
    case malformedResponse(path: String, detail: String)
    /// Any other transport failure (DNS, reset, ...).
    case transport(server: String, detail: String)
    /// The token file could not be read.
    case token(TokenError)

    public var description: String {
        switch self {
        case .unauthorized(let credential, let message):
            return "the API server rejected \(credential): \(message.isEmpty ? "Unauthorized" : message)"
        case .forbidden(let message):
            return
                "\(message) (RBAC denied it; apply kproxy's ClusterRole and ClusterRoleBinding from deploy/rbac.yaml, "
                + "or bind this ServiceAccount to ClusterRole system:node-proxier)"
        case .expired(let message):
            return "410 Expired: \(message)"
        case .status(let code, let reason, let message, let path):
            return "\(path): \(code) \(reason)\(message.isEmpty ? "" : ": \(message)")"
        case .tls(let server, let caSource, let detail):
            return "TLS handshake with \(server) failed: its certificate was not verified against the CA in "
                + "\(caSource) (\(detail)); check that this is the cluster's CA and that the server name is in the certificate"
        case .connectionRefused(let host, let port):
            return
                "connection refused by \(host.contains(":") ? "[\(host)]" : host):\(port): is the API server running and is this its address?"
        case .noResponse(let server, let seconds):
            return "\(server) accepted the connection but sent no response within \(seconds) s"
        case .idleTimeout(let server, let seconds):
            return "the watch stream from \(server) was silent for \(seconds) s; reconnecting"
        case .malformedResponse(let path, let detail):
            return "\(path): unreadable response: \(detail)"
        case .transport(let server, let detail):
            return "request to \(server) failed: \(detail)"
        case .token(let error):
            return error.description
        }
    }

    /// Whether the reflector must re-list instead of re-watching.
    public var isExpired: Bool {
        if case .expired = self { return true }
        return false
    }
}
