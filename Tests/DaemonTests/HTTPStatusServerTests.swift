import Daemon
import Foundation
import NIOCore
import NIOPosix
import Testing

@Suite("HTTP status server")
struct HTTPStatusServerTests {
    /// Runs curl, the client operators use, and returns the status code and body.
    static func curl(_ url: String) throws -> (Int, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        process.arguments = ["-s", "-m", "5", "-w", "\n%{http_code}", url]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        let lines = output.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/curl"), "needs curl"))
    func routesRequestsAndAnswersWithStatus() async throws {
        let server = try await HTTPStatusServer.start(
            host: "127.0.0.1", port: 0, group: MultiThreadedEventLoopGroup.singleton
        ) { _, path in
            switch path {
            case "/healthz": return StatusResponse(status: .serviceUnavailable, contentType: "application/json", body: #"{"x":1}"#)
            case "/metrics": return StatusResponse(body: "kproxy_up 1\n")
            default: return StatusResponse(status: .notFound, body: "not found\n")
            }
        }
        let port = try #require(server.localAddress?.port)
        let health = try Self.curl("http://127.0.0.1:\(port)/healthz?verbose")
        #expect(health.0 == 503)
        #expect(health.1 == #"{"x":1}"#)
        let metrics = try Self.curl("http://127.0.0.1:\(port)/metrics")
        #expect(metrics == (200, "kproxy_up 1\n"))
        #expect(try Self.curl("http://127.0.0.1:\(port)/nope").0 == 404)
        await server.close()
        #expect(try Self.curl("http://127.0.0.1:\(port)/metrics").0 == 0, "closed servers refuse")
    }
}
