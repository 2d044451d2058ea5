import Foundation

/// Where the API server is and how kproxy proves who it is.
///
/// Built by ``inCluster(serviceAccountDir:environment:)`` or ``kubeconfig(path:context:)``, then
/// ``applying(_:)`` command-line overrides. Precedence, highest first:
/// 1. flags (``ConnectionOverrides``: `--server`, `--token-file`, `--certificate-authority`);
/// 2. the kubeconfig file, when one is given (`--kubeconfig`);
/// 3. in-cluster config: `KUBERNETES_SERVICE_HOST`/`KUBERNETES_SERVICE_PORT` and the ServiceAccount
///    directory (`--serviceaccount-dir`, default `/var/run/secrets/kubernetes.io/serviceaccount`).
public struct ConnectionConfig: Sendable, Hashable {
    /// Host (an IPv6 address without brackets) and port of the API server.
    public var host: String
    public var port: Int
    /// The CA bundle (PEM) the server certificate must chain to. There is no insecure mode.
    public var certificateAuthority: CertificateAuthority
    public var token: TokenCredential?
    public var clientCertificate: ClientCertificate?
    /// The namespace kproxy runs in (for Events); `default` when unknown.
    public var namespace: String
    /// Where this config came from, for error messages.
    public var origin: String

    public static let defaultServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

    public init(
        host: String, port: Int, certificateAuthority: CertificateAuthority, token: TokenCredential? = nil,
        clientCertificate: ClientCertificate? = nil, namespace: String = "default", origin: String
    ) {
        self.host = host
        self.port = port
        self.certificateAuthority = certificateAuthority
        self.token = token
        self.clientCertificate = clientCertificate
        self.namespace = namespace
        self.origin = origin
    }

    /// `https://host:port`, bracketing IPv6 literals.
    public var serverURL: String { "https://\(host.contains(":") ? "[\(host)]" : host):\(port)" }

    /// The credential a 401 is about, as the operator knows it.
    public var credentialDescription: String {
        switch token {
        case .file(let path): return "the ServiceAccount token from \(path)"
        case .inline(_, let source): return "the token from \(source)"
        case nil:
            if let cert = clientCertificate { return "the client certificate from \(cert.source)" }
            return "the anonymous request (no credentials in \(origin))"
        }
    }
}

/// A PEM bundle plus where it came from (a path, or a kubeconfig field for `-data` forms).
public struct CertificateAuthority: Sendable, Hashable {
    public var pem: [UInt8]
    public var source: String

    public init(pem: [UInt8], source: String) {
        self.pem = pem
        self.source = source
    }
}

/// A PEM certificate chain and key for TLS client authentication.
public struct ClientCertificate: Sendable, Hashable {
    public var certificatePEM: [UInt8]
    public var keyPEM: [UInt8]
    public var source: String

    public init(certificatePEM: [UInt8], keyPEM: [UInt8], source: String) {
        self.certificatePEM = certificatePEM
        self.keyPEM = keyPEM
        self.source = source
    }
}

/// A bearer token: from a file that kubelet rotates (re-read, see ``TokenSource``), or fixed in a kubeconfig.
public enum TokenCredential: Sendable, Hashable {
    case file(String)
    case inline(BearerToken, source: String)
}

/// A bearer token whose text never reaches a log line or an error message: every textual form is redacted.
public struct BearerToken: Sendable, Hashable, CustomStringConvertible, CustomDebugStringConvertible {
    /// The secret itself; only the transport reads it, to build the `Authorization` header.
    public let secret: String

    public init(_ secret: String) { self.secret = secret }

    public var description: String { "<redacted token>" }
    public var debugDescription: String { "<redacted token>" }
}

/// Command-line settings that win over the file they would otherwise come from.
public struct ConnectionOverrides: Sendable, Hashable {
    /// `https://host:port`.
    public var server: String?
    public var tokenFile: String?
    public var certificateAuthorityFile: String?

    public init(server: String? = nil, tokenFile: String? = nil, certificateAuthorityFile: String? = nil) {
        self.server = server
        self.tokenFile = tokenFile
        self.certificateAuthorityFile = certificateAuthorityFile
    }
}

/// A connection setting kproxy cannot use: names the file (or variable) and the field, and says what to do.
public struct ConfigError: Error, Hashable, Sendable, CustomStringConvertible {
    public var file: String
    public var field: String
    public var message: String

    public init(file: String, field: String, message: String) {
        self.file = file
        self.field = field
        self.message = message
    }

    public var description: String { field.isEmpty ? "\(file): \(message)" : "\(file): \(field): \(message)" }
}

extension ConnectionConfig {
    /// The config a pod gets: `KUBERNETES_SERVICE_HOST`/`PORT` plus `token`, `ca.crt` and `namespace` in
    /// `serviceAccountDir`. The token is only checked for presence here; the transport re-reads it.
    public static func inCluster(
        serviceAccountDir: String = defaultServiceAccountDir,
        environment: [String: String] = ProcessInfo.processInfo.environment
    ) throws(ConfigError) -> ConnectionConfig {
        let origin = "in-cluster config (\(serviceAccountDir))"
        guard let host = environment["KUBERNETES_SERVICE_HOST"], !host.isEmpty else {
            throw ConfigError(
                file: "environment", field: "KUBERNETES_SERVICE_HOST",
                message: "is not set: not running in a pod; pass --kubeconfig FILE")
        }
        let portText = environment["KUBERNETES_SERVICE_PORT"] ?? "443"
        guard let port = Int(portText), (1...65535).contains(port) else {
            throw ConfigError(
                file: "environment", field: "KUBERNETES_SERVICE_PORT",
                message: "\"\(portText)\" is not a port number (1-65535)")
        }
        let dir = serviceAccountDir.hasSuffix("/") ? String(serviceAccountDir.dropLast()) : serviceAccountDir
        let tokenPath = dir + "/token"
        guard FileManager.default.isReadableFile(atPath: tokenPath) else {
            throw ConfigError(
                file: tokenPath, field: "",
                message:
                    "cannot read the ServiceAccount token; is the ServiceAccount mounted (automountServiceAccountToken)?"
            )
        }
        let caPath = dir + "/ca.crt"
        let ca = try readPEM(caPath, field: "", what: "the cluster CA")
        var namespace = "default"
        if let text = try? String(contentsOfFile: dir + "/namespace", encoding: .utf8) {
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if !trimmed.isEmpty { namespace = trimmed }
        }
        return ConnectionConfig(
            host: host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host,
            port: port, certificateAuthority: CertificateAuthority(pem: ca, source: caPath),
            token: .file(tokenPath), namespace: namespace, origin: origin)
    }

    /// Replaces the fields the flags set. Errors name the flag.
    public func applying(_ overrides: ConnectionOverrides) throws(ConfigError) -> ConnectionConfig {
        var config = self
        if let server = overrides.server {
            let (host, port) = try ConnectionConfig.parseServer(server, file: "command line", field: "--server")
            config.host = host
            config.port = port
        }
        if let tokenFile = overrides.tokenFile {
            guard FileManager.default.isReadableFile(atPath: tokenFile) else {
                throw ConfigError(file: tokenFile, field: "--token-file", message: "cannot read the token file")
            }
            config.token = .file(tokenFile)
        }
        if let caFile = overrides.certificateAuthorityFile {
            let pem = try ConnectionConfig.readPEM(caFile, field: "--certificate-authority", what: "the cluster CA")
            config.certificateAuthority = CertificateAuthority(pem: pem, source: caFile)
        }
        return config
    }

    /// Splits `https://host[:port][/]` into host and port; only https is accepted.
    static func parseServer(_ text: String, file: String, field: String) throws(ConfigError) -> (String, Int) {
        guard let url = URLComponents(string: text), let host = url.host, !host.isEmpty else {
            throw ConfigError(file: file, field: field, message: "\"\(text)\" is not a URL like https://host:6443")
        }
        guard url.scheme == "https" else {
            throw ConfigError(
                file: file, field: field,
                message: "\"\(text)\" must use https: kproxy always verifies the API server's certificate")
        }
        if !(url.path.isEmpty || url.path == "/") {
            throw ConfigError(file: file, field: field, message: "\"\(text)\": a path prefix is not supported")
        }
        let bare = host.hasPrefix("[") && host.hasSuffix("]") ? String(host.dropFirst().dropLast()) : host
        return (bare, url.port ?? 443)
    }

    /// Reads a PEM file and checks that it holds at least one PEM block.
    static func readPEM(_ path: String, field: String, what: String) throws(ConfigError) -> [UInt8] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, field: field, message: "cannot read \(what)")
        }
        let bytes = [UInt8](data)
        guard String(decoding: bytes, as: UTF8.self).contains("-----BEGIN ") else {
            throw ConfigError(file: path, field: field, message: "\(what) is not PEM (no -----BEGIN line)")
        }
        return bytes
    }
}
