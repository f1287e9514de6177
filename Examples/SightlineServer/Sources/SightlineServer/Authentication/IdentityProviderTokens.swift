import FoundationEssentials
import JWTKit

/// JSON Web Tokens from an agency's identity provider, verified against the keys of a JWKS
/// file named at start (`--jwks FILE --jwt-issuer ISS --jwt-audience AUD`): how agencies
/// federate logins. The signature must verify under a key of the set (chosen by `kid`), and
/// `iss`, `aud` and `exp` must hold (`nbf` too when present). Claims map to the identity:
/// `sub` → requester, `agency` → agency, `roles` (an array of role names, or one string of
/// names separated by spaces or commas) → roles; a token without a known role is refused.
struct IdentityProviderTokens: Sendable {
    let keys: JWTKeyCollection
    let issuer: String
    let audience: String

    /// The claims a token must carry.
    struct Claims: JWTPayload {
        var sub: SubjectClaim
        var iss: IssuerClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim
        var nbf: NotBeforeClaim?
        var agency: String
        var roles: RoleClaim

        func verify(using algorithm: some JWTAlgorithm) async throws {
            try exp.verifyNotExpired()
            try nbf?.verifyNotBefore()
        }
    }

    /// `roles`: `["read","alerts"]` or `"read alerts"`.
    struct RoleClaim: Codable, Sendable {
        var names: [String]
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let list = try? c.decode([String].self) { names = list } else {
                names = try c.decode(String.self).split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
            }
        }
        func encode(to encoder: any Encoder) throws {
            var c = encoder.singleValueContainer()
            try c.encode(names)
        }
    }

    /// Reads the key set; a file that is not a JWKS stops the start.
    init(jwksFile path: String, issuer: String, audience: String) async throws(ServerError) {
        guard let bytes = try TokenFile.readFile(path) else { throw ServerError("--jwks \(path): no such file") }
        do {
            keys = try await JWTKeyCollection().add(jwksJSON: String(decoding: bytes, as: UTF8.self))
        } catch {
            throw ServerError("--jwks \(path): not a usable JSON Web Key Set: \(error)")
        }
        self.issuer = issuer
        self.audience = audience
    }

    /// The identity a token stands for, or nil when it does not verify or names no role.
    func identity(of token: String) async -> Identity? {
        guard let claims = try? await keys.verify(token, as: Claims.self),
              claims.iss.value == issuer, (try? claims.aud.verifyIntendedAudience(includes: audience)) != nil,
              !claims.sub.value.isEmpty else { return nil }
        let roles = Set(claims.roles.names.compactMap(Role.init(rawValue:)))
        guard !roles.isEmpty else { return nil }
        return Identity(requester: claims.sub.value, agency: claims.agency, roles: roles,
                        expires: Int64(claims.exp.value.timeIntervalSince1970 * 1000))
    }
}
