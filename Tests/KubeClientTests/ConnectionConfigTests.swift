import Foundation
import Testing

@testable import KubeClient

/// A scratch directory removed when the test ends.
final class TempDir {
    let path: String

    init() {
        path = NSTemporaryDirectory() + "kpt-kube-\(UUID().uuidString.prefix(8))"
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    @discardableResult
    func write(_ name: String, _ text: String) -> String {
        let file = path + "/" + name
        _ = FileManager.default.createFile(atPath: file, contents: Data(text.utf8))
        return file
    }
}

let fakePEM = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"

@Suite struct ConnectionConfigTests {
    @Test func inClusterReadsTheServiceAccountLayout() throws {
        let dir = TempDir()
        dir.write("token", "abc.def.ghi\n")
        dir.write("ca.crt", fakePEM)
        dir.write("namespace", "kube-system")
        let config = try ConnectionConfig.inCluster(
            serviceAccountDir: dir.path,
            environment: ["KUBERNETES_SERVICE_HOST": "10.96.0.1", "KUBERNETES_SERVICE_PORT": "6443"])
        #expect(config.host == "10.96.0.1")
        #expect(config.port == 6443)
        #expect(config.namespace == "kube-system")
        #expect(config.token == .file(dir.path + "/token"))
        #expect(config.certificateAuthority.source == dir.path + "/ca.crt")
        #expect(config.serverURL == "https://10.96.0.1:6443")
        #expect(config.credentialDescription == "the ServiceAccount token from \(dir.path)/token")
    }

    @Test func inClusterBracketsIPv6() throws {
        let dir = TempDir()
        dir.write("token", "t")
        dir.write("ca.crt", fakePEM)
        let config = try ConnectionConfig.inCluster(
            serviceAccountDir: dir.path, environment: ["KUBERNETES_SERVICE_HOST": "fd00::1"])
        #expect(config.serverURL == "https://[fd00::1]:443")
        #expect(config.namespace == "default")
    }

    @Test func inClusterErrorsNameTheVariableOrFile() throws {
        let dir = TempDir()
        #expect(
            throws: ConfigError(
                file: "environment", field: "KUBERNETES_SERVICE_HOST",
                message: "is not set: not running in a pod; pass --kubeconfig FILE")
        ) {
            try ConnectionConfig.inCluster(serviceAccountDir: dir.path, environment: [:])
        }
        let badPort = #expect(throws: ConfigError.self) {
            try ConnectionConfig.inCluster(
                serviceAccountDir: dir.path,
                environment: ["KUBERNETES_SERVICE_HOST": "h", "KUBERNETES_SERVICE_PORT": "https"])
        }
        #expect(badPort?.field == "KUBERNETES_SERVICE_PORT")
        let noToken = #expect(throws: ConfigError.self) {
            try ConnectionConfig.inCluster(serviceAccountDir: dir.path, environment: ["KUBERNETES_SERVICE_HOST": "h"])
        }
        #expect(noToken?.file == dir.path + "/token")
        dir.write("token", "t")
        dir.write("ca.crt", "not a certificate")
        let badCA = #expect(throws: ConfigError.self) {
            try ConnectionConfig.inCluster(serviceAccountDir: dir.path, environment: ["KUBERNETES_SERVICE_HOST": "h"])
        }
        #expect(badCA?.file == dir.path + "/ca.crt")
        #expect(badCA?.description.contains("not PEM") == true)
    }

    /// kubeadm's kube-proxy kubeconfig: tokenFile and certificate-authority pointing at the mounted files.
    @Test func kubeadmStyleKubeconfig() throws {
        let dir = TempDir()
        dir.write("token", "t")
        dir.write("ca.crt", fakePEM)
        let file = dir.write(
            "kubeconfig",
            """
            apiVersion: v1
            kind: Config
            clusters:
            - cluster:
                certificate-authority: ca.crt
                server: https://control-plane.example:6443
              name: default
            contexts:
            - context:
                cluster: default
                namespace: kube-system
                user: default
              name: default
            current-context: default
            users:
            - name: default
              user:
                tokenFile: \(dir.path)/token
            """)
        let config = try ConnectionConfig.kubeconfig(path: file)
        #expect(config.host == "control-plane.example")
        #expect(config.port == 6443)
        #expect(config.namespace == "kube-system")
        #expect(config.certificateAuthority.source == dir.path + "/ca.crt")
        #expect(config.token == .file(dir.path + "/token"))
        #expect(config.origin == "kubeconfig \(file)")
    }

    @Test func kubeconfigDataFormsAndClientCertificates() throws {
        let data = Data(fakePEM.utf8).base64EncodedString()
        let key = Data("-----BEGIN PRIVATE KEY-----\nMC4\n-----END PRIVATE KEY-----\n".utf8).base64EncodedString()
        let config = try ConnectionConfig.parseKubeconfig(
            """
            clusters:
            - name: c
              cluster: {server: "https://[::1]", certificate-authority-data: \(data)}
            users:
            - name: u
              user: {client-certificate-data: \(data), client-key-data: \(key), token: s3cret}
            contexts:
            - name: x
              context: {cluster: c, user: u}
            - name: y
              context: {cluster: c}
            current-context: y
            """, file: "/etc/kproxy/kubeconfig", context: "x")
        #expect(config.host == "::1")
        #expect(config.port == 443)
        #expect(
            config.clientCertificate?.source
                == "kubeconfig /etc/kproxy/kubeconfig users[0].user.client-certificate-data")
        #expect(config.certificateAuthority.pem == Array(fakePEM.utf8))
        guard case .inline(let token, _) = config.token else {
            Issue.record("expected an inline token")
            return
        }
        #expect(token.secret == "s3cret")
        #expect(!"\(config)".contains("s3cret"))
    }

    @Test(arguments: [
        ("current-context: nope\ncontexts: []", "contexts", "no entry named \"nope\""),
        (
            "clusters: [{name: c, cluster: {certificate-authority-data: eA==}}]\ncontexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x",
            "clusters[0].cluster.server", "is required"
        ),
        (
            "clusters: [{name: c, cluster: {server: 'http://h', certificate-authority-data: eA==}}]\ncontexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x",
            "clusters[0].cluster.server", "must use https"
        ),
        (
            "clusters: [{name: c, cluster: {server: 'https://h', insecure-skip-tls-verify: true}}]\ncontexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x",
            "clusters[0].cluster.insecure-skip-tls-verify", "not supported"
        ),
        (
            "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority-data: '!!!'}}]\ncontexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x",
            "clusters[0].cluster.certificate-authority-data", "not valid base64"
        ),
        (
            "clusters: [{name: c, cluster: {server: 'https://h'}}]\ncontexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x",
            "clusters[0].cluster.certificate-authority", "is not set"
        ),
        (
            "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority: /nonexistent/ca.crt}}]\ncontexts: [{name: x, context: {cluster: c}}]\ncurrent-context: x",
            "clusters[0].cluster.certificate-authority", "/nonexistent/ca.crt"
        ),
        (
            "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority-data: LS0tLS1CRUdJTiBYLS0tLS0=}}]\nusers: [{name: u, user: {exec: {command: aws}}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x",
            "users[0].user.exec", "not supported"
        ),
        (
            "clusters: [{name: c, cluster: {server: 'https://h', certificate-authority-data: LS0tLS1CRUdJTiBYLS0tLS0=}}]\nusers: [{name: u, user: {client-certificate-data: LS0tLS1CRUdJTiBYLS0tLS0=}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x",
            "users[0].user.client-key", "is not set"
        ),
        ("[1, 2]", "", "must be a mapping"),
        ("key: [unclosed", "", "not valid YAML"),
    ])
    func badKubeconfigsNameFileAndField(yaml: String, field: String, message: String) throws {
        let error = #expect(throws: ConfigError.self) {
            try ConnectionConfig.parseKubeconfig(yaml, file: "/k/config")
        }
        #expect(error?.file == "/k/config")
        #expect(error?.field == field)
        #expect(error?.message.contains(message) == true, "\(String(describing: error))")
    }

    @Test func flagsOverrideTheFile() throws {
        let dir = TempDir()
        let token = dir.write("other-token", "x")
        let ca = dir.write("other-ca.crt", fakePEM)
        let base = ConnectionConfig(
            host: "a", port: 1, certificateAuthority: CertificateAuthority(pem: [], source: "x"), origin: "test")
        let config = try base.applying(
            ConnectionOverrides(server: "https://127.0.0.1:6443", tokenFile: token, certificateAuthorityFile: ca))
        #expect(config.host == "127.0.0.1")
        #expect(config.port == 6443)
        #expect(config.token == .file(token))
        #expect(config.certificateAuthority.source == ca)
        let error = #expect(throws: ConfigError.self) {
            try base.applying(ConnectionOverrides(server: "127.0.0.1:6443"))
        }
        #expect(error?.field == "--server")
    }

    @Test func bearerTokensAreRedacted() {
        let token = BearerToken("eyJhbGciOi.secret")
        #expect("\(token)" == "<redacted token>")
        #expect(String(reflecting: token) == "<redacted token>")
        #expect(!"\(TokenCredential.inline(token, source: "s"))".contains("secret"))
    }
}
