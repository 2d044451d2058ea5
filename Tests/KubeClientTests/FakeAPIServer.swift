import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A throwaway CA and a serving certificate for 127.0.0.1, made with openssl once per test process.
struct TestPKI: Sendable {
    let dir: String
    var caFile: String { dir + "/ca.crt" }
    var certFile: String { dir + "/server.crt" }
    var keyFile: String { dir + "/server.key" }
    /// A second CA that did not sign the server: for the wrong-CA test.
    var otherCAFile: String { dir + "/other-ca.crt" }

    static let shared: TestPKI? = try? TestPKI.make()

    static var directory: String { NSTemporaryDirectory() + "kpt-kube-pki-\(getpid())" }

    static func make() throws -> TestPKI {
        let dir = directory
        atexit { try? FileManager.default.removeItem(atPath: TestPKI.directory) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let script = """
            set -e
            cd '\(dir)'
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=test-ca \
              -keyout ca.key -out ca.crt 2>/dev/null
            openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=other-ca \
              -keyout other-ca.key -out other-ca.crt 2>/dev/null
            openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj /CN=127.0.0.1 \
              -keyout server.key -out server.csr 2>/dev/null
            printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > ext
            openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -days 2 -extfile ext \
              -out server.crt 2>/dev/null
            """
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", script]
        try process.run()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw CocoaError(.fileWriteUnknown) }
        return TestPKI(dir: dir)
    }
}

/// One request the fake server saw.
struct RecordedRequest: Sendable {
    var method: HTTPMethod = .GET
    var path: String
    var query: [String: String]
    var authorization: String?
    var body = ""

    var isWatch: Bool { query["watch"] == "true" }
}

/// What the fake server does with a request.
enum FakeReply: Sendable {
    enum Step: Sendable {
        case send(String)
        case sendBytes(ByteBuffer)
        case wait(Duration)
    }
    enum Ending: Sendable {
        /// The terminating chunk: a clean end of the response.
        case finish
        /// Drop the connection mid-response.
        case close
        /// Keep the response open forever.
        case stayOpen
    }
    case respond(HTTPResponseStatus, [Step], Ending)
    /// Accept the request and never answer it.
    case hang
}

/// An in-process HTTPS server speaking just enough of the API for reflector tests, scripted per request.
final class FakeAPIServer: Sendable {
    let channel: any Channel
    let recorded = Mutex<[RecordedRequest]>([])
    let script: @Sendable (RecordedRequest, Int) -> FakeReply

    var port: Int { channel.localAddress?.port ?? 0 }
    var requests: [RecordedRequest] { recorded.withLock { $0 } }

    init(pki: TestPKI, script: @escaping @Sendable (RecordedRequest, Int) -> FakeReply) async throws {
        self.script = script
        let tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(pki.certFile).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: pki.keyFile, format: .pem)))
        let context = try NIOSSLContext(configuration: tls)
        let box = Mutex<FakeAPIServer?>(nil)
        channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let server = box.withLock({ $0 }) else { return }
                    try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline()
                    try channel.pipeline.syncOperations.addHandler(FakeAPIHandler(server: server))
                }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        box.withLock { $0 = self }
    }

    func record(_ request: RecordedRequest) -> FakeReply {
        let index = recorded.withLock { list in
            list.append(request)
            return list.count - 1
        }
        return script(request, index)
    }

    func stop() async {
        try? await channel.close()
    }
}

final class FakeAPIHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let server: FakeAPIServer
    var request: RecordedRequest?

    init(server: FakeAPIServer) { self.server = server }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            let components = URLComponents(string: head.uri)
            var query: [String: String] = [:]
            for item in components?.queryItems ?? [] { query[item.name] = item.value ?? "" }
            request = RecordedRequest(
                path: components?.path ?? head.uri, query: query,
                authorization: head.headers.first(name: "Authorization"))
            request?.method = head.method
        case .body(let buffer):
            request?.body += String(buffer: buffer)
        case .end:
            guard let request else { return }
            self.request = nil
            switch server.record(request) {
            case .hang:
                break
            case .respond(let status, let steps, let ending):
                var headers = HTTPHeaders()
                headers.add(name: "Content-Type", value: "application/json")
                headers.add(name: "Transfer-Encoding", value: "chunked")
                context.write(
                    wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))),
                    promise: nil)
                context.flush()
                play(steps[...], ending: ending, context: context)
            }
        }
    }

    func play(_ steps: ArraySlice<FakeReply.Step>, ending: FakeReply.Ending, context: ChannelHandlerContext) {
        guard let step = steps.first else {
            switch ending {
            case .finish: context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            case .close: context.close(promise: nil)
            case .stayOpen: break
            }
            return
        }
        let rest = steps.dropFirst()
        switch step {
        case .send(let text):
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
            play(rest, ending: ending, context: context)
        case .sendBytes(let buffer):
            context.writeAndFlush(wrapOutboundOut(.body(.byteBuffer(buffer)))).assumeIsolated().whenSuccess {
                self.play(rest, ending: ending, context: context)
            }
        case .wait(let duration):
            context.eventLoop.assumeIsolated().scheduleTask(in: .nanoseconds(duration.nanosecondsForTest)) {
                self.play(rest, ending: ending, context: context)
            }
        }
    }
}

extension Duration {
    var nanosecondsForTest: Int64 { components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000 }
}

/// Keeps every log line so tests can check that none contains a token.
struct CapturingLogHandler: LogHandler {
    static let lines = Mutex<[String]>([])
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let all = metadata.merging(event.metadata ?? [:]) { $1 }
        CapturingLogHandler.lines.withLock { $0.append("\(event.level) \(event.message) \(all)") }
    }

    static func logger() -> Logger {
        var logger = Logger(label: "test") { _ in CapturingLogHandler() }
        logger.logLevel = .trace
        return logger
    }
}
