import Foundation
import Testing

/// `--tls-cert` / `--tls-key`: the service speaks HTTPS (swift-nio-ssl) and nothing else on
/// that port. A self-signed certificate made by openssl; curl checks it against that
/// certificate (no `-k`).
@Suite(.serialized) struct TLSTests {
    typealias H = Harness

    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/openssl") && FileManager.default.isExecutableFile(atPath: "/usr/bin/curl")))
    func servesHTTPSWithTheGivenCertificate() async throws {
        let paths = H.Paths()
        defer { paths.cleanUp() }
        let cert = paths.store + "-cert.pem", key = paths.store + "-key.pem"
        defer { for f in [cert, key] { try? FileManager.default.removeItem(atPath: f) } }
        let (made, said) = try H.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                                                          "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=localhost",
                                                          "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        #expect(made == 0, "\(said)")
        let token = try H.token(paths, "ops", agency: "SFPD", roles: "admin")
        let server = try H.Server(paths, arguments: ["--tokens", paths.tokens, "--tls-cert", cert, "--tls-key", key])
        defer { _ = server.terminate() }
        let https = server.base.replacingOccurrences(of: "http://", with: "https://")
        let (ok, body) = try H.run("/usr/bin/curl", ["-s", "--cacert", cert, "-H", "Authorization: Bearer \(token)", https + "/v1/hotlists"], merge: false)
        #expect(ok == 0 && body.contains("\"hotlists\""), "\(ok) \(body)")
        // Plain HTTP on the TLS port is not answered.
        let (plain, _) = try H.run("/usr/bin/curl", ["-s", "-m", "5", "-o", "/dev/null", "-w", "%{http_code}", server.base + "/healthz"], merge: false)
        #expect(plain != 0)
    }
}
