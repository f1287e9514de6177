import Hummingbird
import Logging
import Metrics
import Prometheus
import ServiceLifecycle
import Sightline
import SightlineService

/// An HTTP service embedding one Sightline store.
///
///     sightline-server --store DIR [--host 127.0.0.1] [--port 8080]
///
/// Routes: `POST /sightings` (NDJSON or CSV body), `GET /plates/{plate}/sightings`,
/// `GET /area`, `GET /metrics` (Prometheus text), `GET /healthz`. Prints `listening on
/// HOST:PORT` once it accepts connections (port 0 picks a free one); SIGTERM or SIGINT shut it
/// down gracefully: the server stops, then the store flushes and closes.
@main
struct SightlineServer {
    static func main() async throws {
        var arguments = ArraySlice(CommandLine.arguments.dropFirst())
        var storePath: String?
        var host = "127.0.0.1"
        var port = 8080
        while let flag = arguments.popFirst() {
            guard let value = arguments.popFirst() else { usage("\(flag) needs a value") }
            switch flag {
            case "--store": storePath = value
            case "--host": host = value
            case "--port": port = Int(value) ?? { usage("--port \(value): not a number") }()
            default: usage("unknown option \(flag)")
            }
        }
        guard let storePath else { usage("--store is required") }

        var logger = Logger(label: "sightline-server")
        logger.logLevel = .info
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))

        var options = StoreOptions()
        options.logger = logger
        options.controlChannel = true  // `sightline compact|purge|flush|stats` reach this process
        let store = try await AsyncStore(directory: storePath, options: options)
        let (boundHost, requestedPort) = (host, port)
        let router = Router()
        Routes(store: store, registry: registry).add(to: router)
        let app = Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "sightline-server"),
            services: [StoreService(store: store, flushInterval: .seconds(30))],
            onServerRunning: { channel in
                // Tests and scripts read the port from this line: write it unbuffered.
                let line = "listening on \(boundHost):\(channel.localAddress?.port ?? requestedPort)\n"
                _ = line.utf8CString.withUnsafeBufferPointer { write(1, $0.baseAddress, $0.count - 1) }
            },
            logger: logger
        )
        try await app.runService(gracefulShutdownSignals: [.sigterm, .sigint])
    }

    static func usage(_ message: String) -> Never {
        FileHandle.standardError.write("sightline-server: \(message)\nusage: sightline-server --store DIR [--host H] [--port P]\n")
        exit(64)
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Standard error, without Foundation.
enum FileHandle {
    case standardError
    func write(_ text: String) { _ = text.utf8CString.withUnsafeBufferPointer { Glibc.write(2, $0.baseAddress, $0.count - 1) } }
}
