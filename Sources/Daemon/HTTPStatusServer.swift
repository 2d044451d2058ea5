import NIOCore
import NIOHTTP1
import NIOPosix

/// A plain response: what `/healthz`, `/metrics` and the health-check node ports answer.
public struct StatusResponse: Sendable {
    public var status: HTTPResponseStatus
    public var contentType: String
    public var body: String

    public init(status: HTTPResponseStatus = .ok, contentType: String = "text/plain; charset=utf-8", body: String) {
        self.status = status
        self.contentType = contentType
        self.body = body
    }
}

/// A small HTTP/1.1 server for status endpoints: each request's path goes to `route`, synchronously.
///
/// Status endpoints are read by probes and scrapers, never by untrusted bulk clients, so there is no
/// keep-alive tuning; an idle connection is closed after 30 s so that stuck probes cannot pile up.
public final class HTTPStatusServer: Sendable {
    public typealias Route = @Sendable (_ method: HTTPMethod, _ path: String) -> StatusResponse

    let channel: any Channel

    /// The address actually bound: with port 0, the kernel's choice.
    public var localAddress: SocketAddress? { channel.localAddress }

    public static func start(host: String, port: Int, group: any EventLoopGroup, route: @escaping Route)
        async throws -> HTTPStatusServer
    {
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: .seconds(30)))
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(StatusHandler(route: route))
                }
            }
        let channel = try await bootstrap.bind(host: host, port: port).get()
        return HTTPStatusServer(channel: channel)
    }

    init(channel: any Channel) { self.channel = channel }

    public func close() async {
        try? await channel.close()
    }
}

final class StatusHandler: ChannelInboundHandler, Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let route: HTTPStatusServer.Route

    init(route: @escaping HTTPStatusServer.Route) { self.route = route }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard case .head(let head) = unwrapInboundIn(data) else { return }
        let path = head.uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? "/"
        let response = route(head.method, path)
        var headers = HTTPHeaders()
        headers.add(name: "Content-Type", value: response.contentType)
        headers.add(name: "Content-Length", value: String(response.body.utf8.count))
        headers.add(name: "X-Content-Type-Options", value: "nosniff")
        headers.add(name: "Connection", value: "close")
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: response.status, headers: headers))), promise: nil)
        if head.method != .HEAD {
            context.write(wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: response.body)))), promise: nil)
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil))).assumeIsolated().whenComplete { _ in
            context.close(promise: nil)
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            context.close(promise: nil)
        } else {
            context.fireUserInboundEventTriggered(event)
        }
    }
}
