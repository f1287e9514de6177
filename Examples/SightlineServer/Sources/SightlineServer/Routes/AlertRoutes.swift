import Hummingbird
import ServiceLifecycle
import Sightline

/// `GET /v1/alerts`: Server-Sent Events, one per alert the caller's agency may see under the
/// sharing policy (role `alerts`). `id:` is the alert's sequence in the store's durable alert
/// log and `data:` its JSON (the `ingest --alerts` fields), so a client that reconnects with
/// `Last-Event-ID` (or `?after=`) receives every later alert in order, none skipped, across
/// reconnects and server restarts. Each batch sent is audited (operation `alerts`) under the
/// credential's identity before it is written. A comment line every 15 s keeps proxies from
/// closing an idle stream; a graceful shutdown ends the stream.
extension ServiceAPI {
    func addAlertRoutes(to router: Router<BasicRequestContext>) {
        add(router, .get, "/v1/alerts", role: .alerts) { request, context, caller in
            let p = Parameters(request, context)
            try p.only(["after"])
            var after: UInt64 = 0
            if let text = request.header("Last-Event-ID") ?? p["after"] {
                guard let n = UInt64(text.trimmedSpaces) else { throw APIError.badParameter("Last-Event-ID", "\(text): an alert sequence") }
                after = n
            }
            let start = after
            let opened = try await blocking { try AlertTail(store: $0, after: start, access: caller.access) }
            let api = self
            let body = ResponseBody { writer in
                var tail = opened
                try await writer.write(ByteBuffer(string: ": sightline alerts after \(start)\n\n"))
                var idle = ContinuousClock.now
                while !Task.isCancelled && !Task.isShuttingDownGracefully {
                    let polled = tail
                    let (next, alerts) = try await api.store.perform { _ throws(SightlineError) in
                        var t = polled
                        let alerts = try t.poll()
                        return (t, alerts)
                    }
                    tail = next
                    if alerts.isEmpty {
                        if ContinuousClock.now - idle > .seconds(15) {
                            try await writer.write(ByteBuffer(string: ": keep-alive\n\n"))
                            idle = .now
                        }
                        try await Task.sleep(for: .milliseconds(10))
                        continue
                    }
                    var text = ""
                    for alert in alerts { text += "id: \(alert.sequence)\nevent: alert\ndata: \(alert.json)\n\n" }
                    try await writer.write(ByteBuffer(string: text))
                    idle = .now
                }
                try await writer.finish(nil)
            }
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
        }
    }
}
