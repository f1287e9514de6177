import Foundation
import JWTKit
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// JWTs from an agency's identity provider (`--jwks`): a token signed by a key of the set,
/// for the configured issuer and audience, not expired, is the identity its claims name
/// (`sub`, `agency`, `roles`); anything else is 401. Its reads are audited under its `sub`
/// and `agency`.
@Suite(.serialized) struct IdentityProviderTests {
    typealias H = Harness

    struct Payload: JWTPayload {
        var sub: SubjectClaim
        var iss: IssuerClaim
        var aud: AudienceClaim
        var exp: ExpirationClaim
        var agency: String
        var roles: [String]
        func verify(using algorithm: some JWTAlgorithm) async throws {}
    }

    @Test func jwtsFromTheProviderAreIdentitiesAndOthersAreNot() async throws {
        let paths = H.Paths()
        defer { paths.cleanUp() }
        let key = ES256PrivateKey(), stranger = ES256PrivateKey()
        let parameters = try #require(key.publicKey.parameters)
        let jwks = paths.store + "-jwks.json"
        try "{\"keys\":[{\"kty\":\"EC\",\"crv\":\"P-256\",\"alg\":\"ES256\",\"kid\":\"idp-1\",\"x\":\"\(parameters.x)\",\"y\":\"\(parameters.y)\"}]}"
            .write(toFile: jwks, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: jwks) }
        let signer = await JWTKeyCollection().add(ecdsa: key, kid: "idp-1")
        let forger = await JWTKeyCollection().add(ecdsa: stranger, kid: "idp-1")
        func jwt(_ keys: JWTKeyCollection, sub: String = "det-ruiz", iss: String = "https://idp.sfgov.example", aud: String = "sightline",
                 expires: Date = Date().addingTimeInterval(600), roles: [String] = ["read", "audit"]) async throws -> String {
            try await keys.sign(Payload(sub: .init(value: sub), iss: .init(value: iss), aud: .init(value: [aud]), exp: .init(value: expires),
                                        agency: "SFPD", roles: roles), kid: "idp-1")
        }
        let writer = try H.token(paths, "feed", agency: "SFPD", roles: "ingest")
        let server = try H.Server(paths, arguments: ["--tokens", paths.tokens, "--jwks", jwks, "--jwt-issuer", "https://idp.sfgov.example", "--jwt-audience", "sightline"])
        defer { _ = server.terminate() }
        #expect(try await H.http("POST", server.base + "/v1/sightings", token: writer, body: H.rows(1).joined(separator: "\n")).0 == 200)
        let purpose = ["X-Sightline-Purpose": "stolen vehicle", "X-Sightline-Agency": "FBI"]
        let good = try await jwt(signer)
        let (status, body) = try await H.http("GET", server.base + "/v1/plates/P1X1/sightings", token: good, headers: purpose)
        #expect(status == 200 && body.contains("P1X1"), "\(body)")
        // A role the token lacks: 403.
        #expect(try await H.http("GET", server.base + "/v1/hotlists", token: good).0 == 403)
        // Forged, expired, another issuer or audience, no known role: 401.
        for bad in [try await jwt(forger), try await jwt(signer, expires: Date().addingTimeInterval(-60)),
                    try await jwt(signer, iss: "https://evil.example"), try await jwt(signer, aud: "another-app"),
                    try await jwt(signer, roles: ["superuser"]), String(good.dropLast(4)) + "AAAA"] {
            #expect(try await H.http("GET", server.base + "/v1/plates/P1X1/sightings", token: bad, headers: purpose).0 == 401)
        }
        // The read was audited under the token's claims.
        let (_, audit) = try await H.http("GET", server.base + "/v1/audit?requester=det-ruiz", token: good)
        let records = audit.split(separator: "\n").map { H.object(String($0)) }
        #expect(!records.isEmpty && records.allSatisfy { $0["agency"] as? String == "SFPD" }, "\(audit)")
    }
}
