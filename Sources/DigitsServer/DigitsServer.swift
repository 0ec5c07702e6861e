// DigitsServer: the HTTP API and the draw-a-digit page.
//
//     let server = DigitsServer(recognizer: try DigitRecognizer(contentsOf: modelURL))
//     try await server.run()        // http://127.0.0.1:8080/
//
// Routes: GET / (drawing page), POST /api/predict, POST /api/read, GET /healthz, GET /metrics.

import Foundation
import Digits
import Hummingbird
import NIOCore

/// Where the server listens and how much it accepts.
public struct ServerConfiguration: Sendable, Equatable {
    /// The address to bind, "127.0.0.1" by default (loopback only); "0.0.0.0" listens on every interface.
    public var host: String
    /// The TCP port, 8080 by default; 0 asks the system for a free one (see `DigitsServer.makeApplication`).
    public var port: Int
    /// The largest request body accepted, in bytes (5 MB by default); larger bodies get 413.
    public var maxBodyBytes: Int
    /// The largest decoded picture accepted, in pixels (width × height); larger pictures get 413.
    public var maxPixels: Int
    /// How long a connection may sit without a request in progress (before its first request, between
    /// keep-alive requests, or while its request head trickles in) before it is closed: 10 s by default.
    public var idleTimeout: Duration
    /// How long a request's body may take to arrive, from the handler's first read; a slower sender gets
    /// 408 and the connection is closed: 5 s by default. The connection's own idle timer also runs while a
    /// body stalls, so the 408 is sent only when this is shorter than `idleTimeout` (as the defaults are).
    public var bodyTimeout: Duration
    /// How many requests' decoding and inference run at once, how many wait, and the deadline of each
    /// (`WorkQueue`): one per core, four waiting per core, 10 s by default. A request beyond the queue gets
    /// 503 with Retry-After at once, and so does one whose work outlasts the deadline.
    public var work: WorkLimits

    /// A configuration with the given values; every parameter has the documented default.
    public init(host: String = "127.0.0.1", port: Int = 8080, maxBodyBytes: Int = 5_000_000,
                maxPixels: Int = ImageLimits.default.maxPixels, idleTimeout: Duration = .seconds(10),
                bodyTimeout: Duration = .seconds(5), work: WorkLimits = WorkLimits()) {
        self.host = host
        self.port = port
        self.maxBodyBytes = maxBodyBytes
        self.maxPixels = maxPixels
        self.idleTimeout = idleTimeout
        self.bodyTimeout = bodyTimeout
        self.work = work
    }

    /// The picture limits that the decoder enforces: this body limit and `maxPixels`.
    public var imageLimits: ImageLimits {
        ImageLimits(maxEncodedBytes: maxBodyBytes, maxPixels: maxPixels)
    }
}

/// The digits HTTP server: a drawing page and a JSON API over one `DigitRecognizer`.
///
/// The recognizer (and its model) is not thread-safe, so the server owns it and runs one
/// prediction at a time behind a lock. Decoding, preparing and predicting run on the threads of a
/// `WorkQueue`, never on Swift's cooperative pool, so `/healthz` and `/metrics` answer however slow the
/// pictures in flight are.
public struct DigitsServer: Sendable {
    /// Where the server listens and what it accepts.
    public let configuration: ServerConfiguration
    /// The request counters and latency histograms that `GET /metrics` reports.
    public let metrics: ServerMetrics
    /// Where each request's decoding and inference run (bounded by `configuration.work`).
    public let work: WorkQueue
    let recognizer: SharedRecognizer

    /// A server answering with `recognizer`, which it takes over: do not use it elsewhere afterwards.
    public init(recognizer: sending DigitRecognizer, configuration: ServerConfiguration = ServerConfiguration()) {
        self.configuration = configuration
        self.metrics = ServerMetrics()
        self.work = WorkQueue(limits: configuration.work)
        self.recognizer = SharedRecognizer(recognizer)
    }

    /// The router with every route and the metrics/error middleware, for embedding or testing.
    public func makeRouter() -> Router<DigitsRequestContext> {
        let router = Router(context: DigitsRequestContext.self)
        router.add(middleware: MetricsAndErrorsMiddleware<DigitsRequestContext>(metrics: metrics))
        let handlers = Handlers(configuration: configuration, recognizer: recognizer, metrics: metrics, work: work)
        router.get("/") { _, _ in handlers.indexPage() }
        router.get("/healthz") { _, _ in handlers.health() }
        router.get("/metrics") { _, _ in handlers.metricsText() }
        router.post("/api/predict") { request, context in await handlers.predict(request, closed: context.connectionClosed) }
        router.post("/api/read") { request, context in await handlers.read(request, closed: context.connectionClosed) }
        // The API routes exist for POST only: any other method is told so (405 with Allow), not 404.
        for path in ["/api/predict", "/api/read"] {
            for method in [HTTPRequest.Method.get, .head, .put, .delete, .patch] {
                router.on(RouterPath(path), method: method) { request, _ in handlers.methodNotAllowed(request, allowed: "POST") }
            }
        }
        for path in ["/", "/healthz", "/metrics"] {
            for method in [HTTPRequest.Method.post, .put, .delete, .patch] {
                router.on(RouterPath(path), method: method) { request, _ in handlers.methodNotAllowed(request, allowed: "GET") }
            }
        }
        return router
    }

    /// A Hummingbird application bound to `configuration.host:port`; `onServerRunning` receives the
    /// port actually bound (useful with port 0) once the server accepts connections.
    public func makeApplication(
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        Application(
            router: makeRouter(),
            server: .http1(configuration: .init(additionalChannelHandlers: [ConnectionGuard()],
                                                idleTimeout: .init(configuration.idleTimeout))),
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: "digits"
            ),
            onServerRunning: { channel in
                await onServerRunning(channel.localAddress?.port ?? configuration.port)
            }
        )
    }

    /// Runs the server until SIGINT or SIGTERM, then shuts it down gracefully.
    public func run() async throws {
        try await makeApplication().runService()
    }
}

/// The recognizer behind a lock: `DigitRecognizer` and `Model` are classes with mutable state,
/// so every use goes through `withRecognizer`, one caller at a time.
final class SharedRecognizer: @unchecked Sendable {
    private let lock = NSLock()
    private let recognizer: DigitRecognizer

    init(_ recognizer: DigitRecognizer) {
        self.recognizer = recognizer
    }

    /// The model's architecture name, e.g. "mlp" (immutable, so read without the lock).
    var modelName: String { recognizer.model.architecture.name }

    /// Runs `body` with exclusive use of the recognizer.
    func withRecognizer<T>(_ body: (DigitRecognizer) throws -> T) rethrows -> T {
        lock.lock()
        defer { lock.unlock() }
        return try body(recognizer)
    }
}

/// The request context of digits' routes: Hummingbird's core context plus the connection's close future, so
/// that a request whose client has gone stops waiting for work (`WorkQueue.run(_:cancelledBy:)`).
public struct DigitsRequestContext: RequestContext {
    /// Hummingbird's per-request storage (logger, allocator, parameters).
    public var coreContext: CoreRequestContextStorage
    /// Completes when the request's connection closes.
    let connectionClosed: EventLoopFuture<Void>

    /// The context of a request arriving on `source.channel`.
    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        connectionClosed = source.channel.closeFuture
    }
}

