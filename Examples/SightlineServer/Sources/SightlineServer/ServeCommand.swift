import ArgumentParser
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import Metrics
import NIOSSL
import Prometheus
import ServiceLifecycle
import Sightline
import SightlineService

#if canImport(Glibc)
import Glibc
#endif

/// `sightline-server serve`: opens the store and answers the API until SIGTERM or SIGINT,
/// which stop new connections, let requests in flight finish, end alert streams, then flush
/// and close the store. Prints `listening on HOST:PORT` (stdout) once it accepts
/// connections; logs are JSON lines on stderr.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "serve", abstract: "Serve one store over HTTP (the default).")

    @Option(help: "The store directory (env SIGHTLINE_STORE).") var store: String?
    @Option(help: "Address to listen on (env SIGHTLINE_SERVER_HOST).") var host: String?
    @Option(help: "Port; 0 picks a free one (env SIGHTLINE_SERVER_PORT).") var port: Int?
    @Option(help: "The token file (`token add` makes it; env SIGHTLINE_SERVER_TOKENS).") var tokens: String?
    @Option(help: "The keyring holding the store's keys, outside it (env SIGHTLINE_KEYRING).") var keyring: String?
    @Option(help: "The key-encryption key file (env SIGHTLINE_KEK_FILE).") var kekFile: String?
    @Option(help: "TLS certificate chain, PEM.") var tlsCert: String?
    @Option(help: "TLS private key, PEM.") var tlsKey: String?
    @Option(help: "A JSON Web Key Set file: also accept JWTs from the identity provider whose keys it holds (sub → requester, agency, roles).")
    var jwks: String?
    @Option(help: "The issuer (iss) JWTs must name; required with --jwks.") var jwtIssuer: String?
    @Option(help: "The audience (aud) JWTs must name; required with --jwks.") var jwtAudience: String?
    @Option(help: "Largest request body in bytes (env SIGHTLINE_SERVER_MAX_BODY).") var maxBody: Int?
    @Option(help: "Log level: trace, debug, info, notice, warning, error.") var logLevel: String = "info"
    @Flag(help: "Serve without credentials: every request has every role. Local experiments only; said in the log and on /healthz.")
    var insecureNoAuth = false

    func run() async throws {
        let env = Environment()
        guard let storePath = store ?? env["SIGHTLINE_STORE"] else { throw ValidationError("--store DIR is required (or SIGHTLINE_STORE)") }
        let tokenPath = tokens ?? env["SIGHTLINE_SERVER_TOKENS"]
        guard tokenPath != nil || jwks != nil || insecureNoAuth else {
            throw ValidationError("--tokens FILE is required: make one with `sightline-server token add --tokens FILE …` (or give --jwks; or, for a local experiment only, --insecure-no-auth)")
        }
        guard (tokenPath == nil && jwks == nil) || !insecureNoAuth else { throw ValidationError("--insecure-no-auth excludes --tokens and --jwks") }
        guard jwks == nil || (jwtIssuer != nil && jwtAudience != nil) else { throw ValidationError("--jwks needs --jwt-issuer and --jwt-audience") }
        guard (tlsCert == nil) == (tlsKey == nil) else { throw ValidationError("give --tls-cert and --tls-key together") }
        if let keyring { setenv("SIGHTLINE_KEYRING", keyring, 1) }
        if let kekFile { setenv("SIGHTLINE_KEK_FILE", kekFile, 1) }
        let host = host ?? env["SIGHTLINE_SERVER_HOST"] ?? "127.0.0.1"
        let port = try port ?? env["SIGHTLINE_SERVER_PORT"].map { text throws -> Int in
            guard let p = Int(text) else { throw ValidationError("SIGHTLINE_SERVER_PORT=\(text): not a port") }
            return p
        } ?? 8080
        var limits = ServiceAPI.Limits()
        if let bytes = try maxBody ?? env["SIGHTLINE_SERVER_MAX_BODY"].map({ text throws -> Int in
            guard let n = Int(text), n > 0 else { throw ValidationError("SIGHTLINE_SERVER_MAX_BODY=\(text): bytes") }
            return n
        }) { limits.maximumBody = bytes }
        guard let level = Logger.Level(rawValue: logLevel) else { throw ValidationError("--log-level \(logLevel): trace … critical") }

        LoggingSystem.bootstrap { label in
            var handler = JSONLogHandler(label: label)
            handler.logLevel = level
            return handler
        }
        let logger = Logger(label: "sightline-server")
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        var provider: IdentityProviderTokens?
        if let jwks, let jwtIssuer, let jwtAudience {
            provider = try await IdentityProviderTokens(jwksFile: jwks, issuer: jwtIssuer, audience: jwtAudience)
        }
        let authenticator = try Authenticator(insecureNoAuth ? .none : .tokens(path: tokenPath), provider: provider, now: StoreOptions.systemTime)
        if insecureNoAuth {
            logger.warning("INSECURE: serving without credentials (--insecure-no-auth); every request has every role and is audited as requester \"unauthenticated\"")
        }
        let assets = try ServiceAPI.Assets()
        var options = StoreOptions()
        options.logger = logger
        options.controlChannel = true  // `sightline compact|purge|flush|stats` reach this process
        let opened = try await AsyncStore(directory: storePath, options: options)
        let api = ServiceAPI(store: opened, authenticator: authenticator, limits: limits, logger: logger, keyring: .standard)
        let router = Router()
        router.add(middleware: MetricsMiddleware())
        router.add(middleware: LogRequestsMiddleware(.debug))
        api.addRoutes(to: router, assets: assets, registry: registry, insecure: insecureNoAuth)
        // The API is described once, in Resources/openapi.json: a route it does not describe,
        // or one it describes that is not served, stops the service here.
        try assets.checkDescribed(api.table.routes)

        let server: HTTPServerBuilder
        if let tlsCert, let tlsKey {
            let chain = try NIOSSLCertificate.fromPEMFile(tlsCert).map { NIOSSLCertificateSource.certificate($0) }
            let key = try NIOSSLPrivateKey(file: tlsKey, format: .pem)
            server = try .tls(.http1(), tlsConfiguration: .makeServerConfiguration(certificateChain: chain, privateKey: .privateKey(key)))
        } else {
            server = .http1()
        }
        let scheme = tlsCert == nil ? "http" : "https"
        let app = Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(host, port: port), serverName: "sightline-server"),
            services: [StoreService(store: opened, flushInterval: .seconds(30))],
            onServerRunning: { channel in
                let bound = channel.localAddress?.port ?? port
                logger.info("listening", metadata: ["address": "\(scheme)://\(host):\(bound)", "store": "\(storePath)",
                                                    "authentication": "\(insecureNoAuth ? "NONE (insecure)" : jwks == nil ? "bearer tokens" : "bearer tokens and JWTs")"])
                // Tests and scripts read the port from this line: write it unbuffered.
                let line = "listening on \(host):\(bound)\n"
                _ = line.utf8CString.withUnsafeBufferPointer { write(1, $0.baseAddress, $0.count - 1) }
            },
            logger: logger
        )
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }
}

/// The process environment.
struct Environment {
    subscript(_ name: String) -> String? {
        guard let value = getenv(name) else { return nil }
        let text = String(cString: value)
        return text.isEmpty ? nil : text
    }
}

extension ServiceAPI {
    /// Every route, registered on `router`.
    func addRoutes(to router: Router<BasicRequestContext>, assets: Assets, registry: PrometheusCollectorRegistry, insecure: Bool) {
        addPublicRoutes(to: router, assets: assets, registry: registry, insecure: insecure)
        addSightingRoutes(to: router)
        addInvestigationRoutes(to: router)
        addRuleRoutes(to: router)
        addAdministrationRoutes(to: router)
        addAlertRoutes(to: router)
        addAuditRoutes(to: router)
    }
}
