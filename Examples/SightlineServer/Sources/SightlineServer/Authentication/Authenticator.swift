import Hummingbird
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Turns a request's `Authorization: Bearer TOKEN` into an identity: the token file's, or —
/// for a JSON Web Token when an identity provider's keys were given — the token's verified
/// claims (`IdentityProviderTokens`). The file is re-read when it changes (a `token revoke` takes effect at the next
/// request, without a restart); a file that no longer parses keeps the last good set and is
/// logged, never opened up.
final class Authenticator: Sendable {
    enum Mode: Sendable {
        /// Tokens from this file (nil: JWTs from the identity provider only).
        case tokens(path: String?)
        /// `--insecure-no-auth`: every request is `Identity.unauthenticated`.
        case none
    }

    let mode: Mode
    let now: @Sendable () -> Int64
    /// JWTs from an identity provider, when `--jwks` was given.
    let provider: IdentityProviderTokens?
    private struct Loaded { var file = TokenFile(); var stamp: [Int] = [] }
    private let loaded = Mutex(Loaded())

    init(_ mode: Mode, provider: IdentityProviderTokens? = nil, now: @escaping @Sendable () -> Int64) throws(ServerError) {
        self.mode = mode
        self.now = now
        self.provider = provider
        if case .tokens(let path?) = mode {
            let file = try TokenFile.read(path)
            let stamp = Self.stamp(path)
            loaded.withLock { $0 = Loaded(file: file, stamp: stamp) }
        }
    }

    /// Why a request has no identity.
    enum Refusal: Error { case missing, unknown }

    /// The identity of `request`'s credential.
    func identity(_ request: Request) async throws(Refusal) -> Identity {
        guard case .tokens(let path) = mode else { return .unauthenticated }
        guard let header = request.headers[.authorization], header.count > 7,
              header.prefix(7).lowercased() == "bearer " else { throw .missing }
        let token = header.dropFirst(7).trimmedSpaces
        // A JWT (three base64url parts): only the identity provider's keys can vouch for it.
        if let provider, token.split(separator: ".", omittingEmptySubsequences: false).count == 3 {
            guard let identity = await provider.identity(of: token) else { throw .unknown }
            return identity
        }
        guard let path else { throw .unknown }
        let stamp = Self.stamp(path)
        let file = loaded.withLock { state -> TokenFile in
            if state.stamp != stamp, let fresh = try? TokenFile.read(path) {
                state = Loaded(file: fresh, stamp: stamp)
            }
            return state.file
        }
        guard let identity = file.identity(of: String(token), now: now()) else { throw .unknown }
        return identity
    }

    /// What changes when the file is replaced: inode, size, modification time.
    private static func stamp(_ path: String) -> [Int] {
        var s = stat()
        guard stat(path, &s) == 0 else { return [] }
        return [Int(s.st_ino), Int(s.st_size), Int(s.st_mtim.tv_sec), Int(s.st_mtim.tv_nsec)]
    }
}
