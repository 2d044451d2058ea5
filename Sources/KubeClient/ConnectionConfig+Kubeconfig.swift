import Foundation
import Yams

extension ConnectionConfig {
    /// Reads a kubeconfig the way kubectl does for the parts kproxy supports: `clusters`, `users`,
    /// `contexts` and `current-context`; `token`, `tokenFile`, `client-certificate`/`client-key`,
    /// `certificate-authority`, and their `-data` forms. Relative paths are relative to the file.
    ///
    /// - Parameter context: the context to use instead of `current-context`.
    public static func kubeconfig(path: String, context: String? = nil) throws(ConfigError) -> ConnectionConfig {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(file: path, field: "", message: "cannot read the kubeconfig file")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(file: path, field: "", message: "is not UTF-8 text")
        }
        return try parseKubeconfig(text, file: path, context: context)
    }

    /// Parses kubeconfig text; `file` names it in errors and anchors relative paths.
    public static func parseKubeconfig(_ text: String, file: String, context: String? = nil) throws(ConfigError)
        -> ConnectionConfig
    {
        let root: Yams.Node
        do {
            guard let node = try Yams.compose(yaml: text) else {
                throw ConfigError(file: file, field: "", message: "is empty")
            }
            root = node
        } catch let error as ConfigError {
            throw error
        } catch {
            throw ConfigError(file: file, field: "", message: "is not valid YAML: \(error)")
        }
        let reader = KubeconfigReader(file: file)
        guard root.mapping != nil else { throw reader.error("", "must be a mapping (apiVersion: v1, kind: Config)") }

        let contextName: String
        if let context {
            contextName = context
        } else {
            guard let current = try reader.string(root["current-context"], "current-context"), !current.isEmpty else {
                throw reader.error("current-context", "is not set; set it or choose a context")
            }
            contextName = current
        }
        let (contextNode, contextPath) = try reader.named(root, list: "contexts", name: contextName, body: "context")
        let clusterName = try reader.required(contextNode["cluster"], contextPath + ".cluster")
        let userName = try reader.string(contextNode["user"], contextPath + ".user")
        let namespace = try reader.string(contextNode["namespace"], contextPath + ".namespace")

        let (cluster, clusterPath) = try reader.named(root, list: "clusters", name: clusterName, body: "cluster")
        let server = try reader.required(cluster["server"], clusterPath + ".server")
        let (host, port) = try parseServer(server, file: file, field: clusterPath + ".server")
        if let insecure = cluster["insecure-skip-tls-verify"]?.bool, insecure {
            throw reader.error(
                clusterPath + ".insecure-skip-tls-verify",
                "is not supported: kproxy always verifies the API server; set certificate-authority")
        }
        guard
            let ca = try reader.pem(
                cluster, path: clusterPath, fileKey: "certificate-authority", dataKey: "certificate-authority-data")
        else {
            throw reader.error(
                clusterPath + ".certificate-authority",
                "is not set: kproxy needs the cluster CA (certificate-authority or certificate-authority-data)")
        }

        var config = ConnectionConfig(
            host: host, port: port, certificateAuthority: CertificateAuthority(pem: ca.bytes, source: ca.source),
            namespace: namespace ?? "default", origin: "kubeconfig \(file)")
        guard let userName else { return config }
        let (user, userPath) = try reader.named(root, list: "users", name: userName, body: "user")
        for unsupported in ["exec", "auth-provider", "username", "password"] where user[unsupported] != nil {
            throw reader.error(
                userPath + "." + unsupported, "is not supported; use token, tokenFile or client-certificate/client-key")
        }
        if let tokenFile = try reader.string(user["tokenFile"], userPath + ".tokenFile") {
            let resolved = reader.resolve(tokenFile)
            guard FileManager.default.isReadableFile(atPath: resolved) else {
                throw reader.error(userPath + ".tokenFile", "cannot read \(resolved)")
            }
            config.token = .file(resolved)
        } else if let token = try reader.string(user["token"], userPath + ".token") {
            config.token = .inline(BearerToken(token), source: "kubeconfig \(file) \(userPath).token")
        }
        let cert = try reader.pem(
            user, path: userPath, fileKey: "client-certificate", dataKey: "client-certificate-data")
        let key = try reader.pem(user, path: userPath, fileKey: "client-key", dataKey: "client-key-data")
        switch (cert, key) {
        case (let cert?, let key?):
            config.clientCertificate = ClientCertificate(
                certificatePEM: cert.bytes, keyPEM: key.bytes, source: cert.source)
        case (.some, nil):
            throw reader.error(userPath + ".client-key", "is not set, but client-certificate is")
        case (nil, .some):
            throw reader.error(userPath + ".client-certificate", "is not set, but client-key is")
        case (nil, nil):
            break
        }
        return config
    }
}

/// Walks a kubeconfig's YAML, producing errors that name the file and the field.
struct KubeconfigReader {
    var file: String

    func error(_ field: String, _ message: String) -> ConfigError {
        ConfigError(file: file, field: field, message: message)
    }

    func string(_ node: Yams.Node?, _ field: String) throws(ConfigError) -> String? {
        guard let node else { return nil }
        guard let scalar = node.scalar else { throw error(field, "must be a string") }
        return scalar.string
    }

    func required(_ node: Yams.Node?, _ field: String) throws(ConfigError) -> String {
        guard let value = try string(node, field), !value.isEmpty else { throw error(field, "is required") }
        return value
    }

    /// Finds `list[name=...]` and returns its `body` mapping plus the field path used in errors.
    func named(_ root: Yams.Node, list: String, name: String, body: String) throws(ConfigError)
        -> (Yams.Node, String)
    {
        guard let entries = root[list]?.sequence else {
            throw error(list, "is missing; it must list the \(body) named \"\(name)\"")
        }
        for (index, entry) in entries.enumerated() where entry["name"]?.string == name {
            let path = "\(list)[\(index)].\(body)"
            guard let node = entry[body], node.mapping != nil else { throw error(path, "must be a mapping") }
            return (node, path)
        }
        throw error(list, "has no entry named \"\(name)\"")
    }

    func resolve(_ path: String) -> String {
        if path.hasPrefix("/") { return path }
        let dir = (file as NSString).deletingLastPathComponent
        return dir.isEmpty ? path : dir + "/" + path
    }

    /// Reads `fileKey` (a path) or `dataKey` (base64 PEM); nil when neither is set.
    func pem(_ node: Yams.Node, path: String, fileKey: String, dataKey: String) throws(ConfigError)
        -> (bytes: [UInt8], source: String)?
    {
        if let encoded = try string(node[dataKey], path + "." + dataKey) {
            guard let data = Data(base64Encoded: encoded, options: .ignoreUnknownCharacters) else {
                throw error(path + "." + dataKey, "is not valid base64")
            }
            let bytes = [UInt8](data)
            guard String(decoding: bytes, as: UTF8.self).contains("-----BEGIN ") else {
                throw error(path + "." + dataKey, "does not decode to PEM (no -----BEGIN line)")
            }
            return (bytes, "kubeconfig \(file) \(path).\(dataKey)")
        }
        guard let relative = try string(node[fileKey], path + "." + fileKey) else { return nil }
        let resolved = resolve(relative)
        do {
            return (try ConnectionConfig.readPEM(resolved, field: "", what: fileKey), resolved)
        } catch {
            throw self.error(path + "." + fileKey, "\(resolved): \(error.message)")
        }
    }
}
