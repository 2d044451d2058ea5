import Foundation
import Synchronization

/// Supplies the bearer token for each request.
///
/// Bound ServiceAccount tokens expire and kubelet rewrites the file (through its `..data` symlink), so a
/// file token is re-read at least every ``refreshInterval`` (client-go: about once a minute) and at once
/// after the server answers 401 (``invalidate()``).
public final class TokenSource: Sendable {
    enum Origin: Sendable {
        case file(String)
        case inline(BearerToken)
    }

    struct Cache: Sendable {
        var token: BearerToken?
        var readAt: ContinuousClock.Instant?
    }

    let origin: Origin
    public let refreshInterval: Duration
    let cache = Mutex(Cache())

    public init(_ credential: TokenCredential, refreshInterval: Duration = .seconds(60)) {
        switch credential {
        case .file(let path): origin = .file(path)
        case .inline(let token, _): origin = .inline(token)
        }
        self.refreshInterval = refreshInterval
    }

    /// The token to send now, re-reading the file when the cached copy is older than ``refreshInterval``.
    ///
    /// If a re-read fails but an older token is cached, the older one is kept: kubelet's atomic rename
    /// leaves a brief window, and the server's 401 will say whether the old token still works.
    public func current(now: ContinuousClock.Instant = .now) throws(TokenError) -> BearerToken {
        switch origin {
        case .inline(let token):
            return token
        case .file(let path):
            let cached = cache.withLock { $0 }
            if let token = cached.token, let readAt = cached.readAt, now - readAt < refreshInterval {
                return token
            }
            do {
                let token = try TokenSource.read(path)
                cache.withLock { $0 = Cache(token: token, readAt: now) }
                return token
            } catch {
                if let token = cached.token { return token }
                throw error
            }
        }
    }

    /// Forgets the cached token so the next request reads the file again (after a 401).
    public func invalidate() {
        cache.withLock { $0 = Cache() }
    }

    static func read(_ path: String) throws(TokenError) -> BearerToken {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw TokenError(path: path, problem: "cannot be read")
        }
        let text = String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
        guard !text.isEmpty else { throw TokenError(path: path, problem: "is empty") }
        guard !text.contains(where: { $0.isWhitespace || $0.isNewline }) else {
            throw TokenError(path: path, problem: "holds more than one line or word; expected a single token")
        }
        return BearerToken(text)
    }
}

/// The token file cannot be used; the message names the file and never quotes its content.
public struct TokenError: Error, Hashable, Sendable, CustomStringConvertible {
    public var path: String
    public var problem: String

    public var description: String { "the ServiceAccount token file \(path) \(problem)" }
}
