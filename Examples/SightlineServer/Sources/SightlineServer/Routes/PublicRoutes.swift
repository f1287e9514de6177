import Foundation
import Hummingbird
import Prometheus
import Sightline

/// What needs no credential — `/healthz`, `/openapi.json`, the map page and its assets — and
/// `/metrics` (role `admin`). The page and the API description ship in the executable's
/// resource bundle and are read once at start.
extension ServiceAPI {
    /// The service's static files: the map page, its script and style, the OpenAPI document.
    struct Assets: Sendable {
        let files: [String: (type: String, bytes: ByteBuffer)]

        init() throws(ServerError) {
            var files: [String: (String, ByteBuffer)] = [:]
            for (name, type) in [("index.html", "text/html; charset=utf-8"), ("map.js", "text/javascript; charset=utf-8"),
                                 ("map.css", "text/css; charset=utf-8"), ("openapi.json", "application/json")] {
                guard let url = Bundle.module.url(forResource: name, withExtension: nil, subdirectory: "Resources"),
                      let data = try? Data(contentsOf: url) else {
                    throw ServerError("resource \(name) missing beside the executable (copy the sightline-server_SightlineServer.resources bundle with it)")
                }
                files[name] = (type, ByteBuffer(bytes: data))
            }
            self.files = files
        }

        /// Checks that `routes` are exactly the operations the OpenAPI document describes.
        func checkDescribed(_ routes: [RouteEntry]) throws(ServerError) {
            let data = Data(files["openapi.json"]!.bytes.readableBytesView)
            guard let document = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let paths = document["paths"] as? [String: Any] else { throw ServerError("openapi.json: no paths") }
            var described = Set<String>()
            for (path, item) in paths {
                for method in ((item as? [String: Any]) ?? [:]).keys where ["get", "put", "post", "delete", "patch"].contains(method) {
                    described.insert("\(method.uppercased()) \(path)")
                }
            }
            let served = Set(routes.map { "\($0.method) \($0.path)" })
            if let missing = served.subtracting(described).sorted().first { throw ServerError("route \(missing) is not described in openapi.json") }
            if let extra = described.subtracting(served).sorted().first { throw ServerError("openapi.json describes \(extra), which is not served") }
        }

        func response(_ name: String) -> Response {
            let file = files[name]!
            return Response(status: .ok, headers: [.contentType: file.type, .cacheControl: "no-cache"], body: .init(byteBuffer: file.bytes))
        }
    }

    func addPublicRoutes(to router: Router<BasicRequestContext>, assets: Assets, registry: PrometheusCollectorRegistry, insecure: Bool) {
        for path in ["/healthz", "/openapi.json", "/", "/map.js", "/map.css"] {
            table.routes.append(RouteEntry(method: "GET", path: path, role: nil))
        }
        router.get("/healthz") { _, _ in
            insecure ? "ok (INSECURE: --insecure-no-auth, every request has every role)\n" : "ok\n"
        }
        router.get("/openapi.json") { _, _ in assets.response("openapi.json") }
        router.get("/") { _, _ in assets.response("index.html") }
        router.get("/map.js") { _, _ in assets.response("map.js") }
        router.get("/map.css") { _, _ in assets.response("map.css") }
        add(router, .get, "/metrics", role: .admin) { request, context, _ in
            try Parameters(request, context).only([])
            return
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                     body: .init(byteBuffer: ByteBuffer(bytes: registry.emitToBuffer())))
        }
    }
}
