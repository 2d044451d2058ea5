import AsyncHTTPClient
import Foundation
import KubeModel
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// Timeouts and limits of the HTTPS transport.
public struct TransportOptions: Sendable, Hashable {
    /// TCP connect plus TLS handshake.
    public var connectTimeout: Duration
    /// How long a request may wait for its response head (connection retries included).
    public var responseTimeout: Duration
    /// A stream silent for this long is abandoned and reconnected. It must exceed the server's watch
    /// `timeoutSeconds`, after which a healthy server closes the stream itself.
    public var idleTimeout: Duration
    /// The largest list response kproxy buffers.
    public var maximumListSize: Int

    public init(
        connectTimeout: Duration = .seconds(10), responseTimeout: Duration = .seconds(30),
        idleTimeout: Duration = .seconds(660), maximumListSize: Int = 1 << 30
    ) {
        self.connectTimeout = connectTimeout
        self.responseTimeout = responseTimeout
        self.idleTimeout = idleTimeout
        self.maximumListSize = maximumListSize
    }
}

/// The HTTPS connection to one API server: verifies it against the configured CA, presents the client
/// certificate if any, adds a fresh bearer token to every request, and turns failures into
/// ``KubeClientError``s.
///
/// Tokens only ever go into the `Authorization` header; async-http-client gets no logger, so nothing
/// below this type logs a request.
final class APIConnection: Sendable {
    let config: ConnectionConfig
    let options: TransportOptions
    let tokens: TokenSource?
    let http: HTTPClient

    init(config: ConnectionConfig, options: TransportOptions, tokenRefresh: Duration) throws(ConfigError) {
        self.config = config
        self.options = options
        tokens = config.token.map { TokenSource($0, refreshInterval: tokenRefresh) }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.certificateVerification = .fullVerification
        // NIOSSL waits this long for the peer's close_notify when a stream is abandoned (5 s by default);
        // a cancelled watch must not hold up shutdown or `kproxy inspect`'s exit.
        tls.shutdownTimeout = .seconds(1)
        do {
            tls.trustRoots = .certificates(try NIOSSLCertificate.fromPEMBytes(config.certificateAuthority.pem))
        } catch {
            throw ConfigError(
                file: config.certificateAuthority.source, field: "", message: "is not a valid PEM certificate bundle")
        }
        if let client = config.clientCertificate {
            do {
                tls.certificateChain = try NIOSSLCertificate.fromPEMBytes(client.certificatePEM).map {
                    .certificate($0)
                }
            } catch {
                throw ConfigError(file: client.source, field: "", message: "is not a valid PEM client certificate")
            }
            do {
                tls.privateKey = .privateKey(try NIOSSLPrivateKey(bytes: client.keyPEM, format: .pem))
            } catch {
                throw ConfigError(file: client.source, field: "client-key", message: "is not a valid PEM private key")
            }
        }
        var configuration = HTTPClient.Configuration(
            tlsConfiguration: tls, redirectConfiguration: .disallow,
            timeout: .init(
                connect: .nanoseconds(options.connectTimeout.nanoseconds),
                read: .nanoseconds(options.idleTimeout.nanoseconds)))
        configuration.decompression = .disabled
        // Fail fast and let the reflector's backoff retry: async-http-client would otherwise keep retrying a
        // refused connection or a failed handshake silently until the response deadline.
        configuration.connectionPool.retryConnectionEstablishment = false
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }

    func shutdown() async {
        try? await http.shutdown()
    }

    /// Sends a request and returns the response once its head says 2xx; the body is left to stream.
    func send(
        _ method: HTTPMethod, path: String, query: [(String, String)] = [], body: Data? = nil
    ) async throws(KubeClientError) -> HTTPClientResponse {
        var request = HTTPClientRequest(url: config.serverURL + path + APIConnection.encode(query))
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        request.headers.add(name: "User-Agent", value: "kproxy")
        if let tokens {
            do {
                request.headers.add(name: "Authorization", value: "Bearer " + (try tokens.current().secret))
            } catch {
                throw .token(error)
            }
        }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let response: HTTPClientResponse
        do {
            response = try await http.execute(
                request, timeout: .nanoseconds(options.responseTimeout.nanoseconds))
        } catch {
            throw classify(error)
        }
        guard (200..<300).contains(Int(response.status.code)) else {
            let data = try? await response.body.collect(upTo: 1 << 20)
            let status =
                data.flatMap { try? JSONDecoder().decode(Status.self, from: Data($0.readableBytesView)) }
                ?? Status(code: Int(response.status.code), reason: response.status.reasonPhrase, message: "")
            throw statusError(Int(response.status.code), status, path: path)
        }
        return response
    }

    /// Reads a whole (list) body, bounded by ``TransportOptions/maximumListSize``.
    func collect(_ response: HTTPClientResponse, path: String) async throws(KubeClientError) -> Data {
        do {
            let buffer = try await response.body.collect(upTo: options.maximumListSize)
            return Data(buffer.readableBytesView)
        } catch is NIOTooManyBytesError {
            throw .malformedResponse(path: path, detail: "larger than \(options.maximumListSize) bytes")
        } catch {
            throw classify(error)
        }
    }

    func statusError(_ code: Int, _ status: Status, path: String) -> KubeClientError {
        switch code {
        case 401:
            tokens?.invalidate()
            return .unauthorized(credential: config.credentialDescription, message: status.message)
        case 403:
            return .forbidden(message: status.message.isEmpty ? "\(path): Forbidden" : status.message)
        case 410:
            return .expired(message: status.message)
        default:
            if status.isExpired { return .expired(message: status.message) }
            return .status(code: code, reason: status.reason, message: status.message, path: path)
        }
    }

    /// Maps a transport error to the wording an operator can act on.
    func classify(_ error: any Error) -> KubeClientError {
        if let error = error as? KubeClientError { return error }
        let server = config.serverURL
        if let error = error as? HTTPClientError {
            switch error {
            case .readTimeout:
                return .idleTimeout(server: server, seconds: Int(options.idleTimeout.components.seconds))
            case .deadlineExceeded, .getConnectionFromPoolTimeout:
                return .noResponse(server: server, seconds: Int(options.responseTimeout.components.seconds))
            case .connectTimeout:
                return .transport(server: server, detail: "connecting timed out")
            default:
                return .transport(server: server, detail: String(describing: error))
            }
        }
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            return .tls(
                server: server, caSource: config.certificateAuthority.source,
                detail: APIConnection.tlsDetail(error))
        }
        if APIConnection.isConnectionRefused(error) { return .connectionRefused(host: config.host, port: config.port) }
        if error is CancellationError { return .transport(server: server, detail: "cancelled") }
        return .transport(server: server, detail: String(describing: error))
    }

    static func tlsDetail(_ error: any Error) -> String {
        let text = String(describing: error)
        if text.contains("CERTIFICATE_VERIFY_FAILED") { return "certificate verify failed" }
        return text
    }

    static func isConnectionRefused(_ error: any Error) -> Bool {
        if let io = error as? IOError { return io.errnoCode == ECONNREFUSED }
        if let failure = error as? NIOConnectionError {
            return failure.connectionErrors.contains { isConnectionRefused($0.error) }
        }
        return String(describing: error).contains("Connection refused")
    }

    /// `?a=b&c=d` with RFC 3986 query escaping (selectors contain `=`, `!` and `,`).
    static func encode(_ query: [(String, String)]) -> String {
        guard !query.isEmpty else { return "" }
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return "?"
            + query.map { key, value in
                key + "=" + (value.addingPercentEncoding(withAllowedCharacters: allowed) ?? value)
            }.joined(separator: "&")
    }
}

extension Duration {
    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
