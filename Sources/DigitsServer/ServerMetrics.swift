// Request counts and latencies, kept in memory and reported at GET /metrics in Prometheus' text format.

import Foundation
import Hummingbird

/// Request counters by route and status, and a latency histogram by route, safe to update from any task.
public final class ServerMetrics: @unchecked Sendable {
    /// The histogram's upper bounds in seconds (a final +Inf bucket is implied).
    public static let latencyBuckets: [Double] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]
    /// The routes reported by name; any other path is reported as "other", so labels stay few.
    public static let routes: Set<String> = ["/", "/healthz", "/metrics", "/api/predict", "/api/read"]

    private struct Histogram {
        var buckets = [Int](repeating: 0, count: ServerMetrics.latencyBuckets.count)
        var count = 0
        var sum = 0.0
    }

    private struct Key: Hashable, Comparable {
        var route: String
        var status: Int
        static func < (a: Key, b: Key) -> Bool { (a.route, a.status) < (b.route, b.status) }
    }

    private let lock = NSLock()
    private var counts: [Key: Int] = [:]
    private var latencies: [String: Histogram] = [:]

    /// Empty metrics.
    public init() {}

    /// The route label for a request path: the path itself for a known route, else "other".
    public static func routeLabel(for path: String) -> String {
        routes.contains(path) ? path : "other"
    }

    /// Records one request to `route` answered with `status` after `seconds`.
    public func record(route: String, status: Int, seconds: Double) {
        lock.lock()
        defer { lock.unlock() }
        counts[Key(route: route, status: status), default: 0] += 1
        var histogram = latencies[route] ?? Histogram()
        for (i, bound) in Self.latencyBuckets.enumerated() where seconds <= bound {
            histogram.buckets[i] += 1
        }
        histogram.count += 1
        histogram.sum += seconds
        latencies[route] = histogram
    }

    /// The number of requests recorded for `route` with `status`.
    public func count(route: String, status: Int) -> Int {
        lock.lock()
        defer { lock.unlock() }
        return counts[Key(route: route, status: status)] ?? 0
    }

    /// Everything recorded, in the Prometheus text exposition format (version 0.0.4).
    public func prometheusText() -> String {
        lock.lock()
        let counts = self.counts
        let latencies = self.latencies
        lock.unlock()
        var lines = [
            "# HELP digits_http_requests_total HTTP requests answered, by route and status code.",
            "# TYPE digits_http_requests_total counter",
        ]
        for (key, value) in counts.sorted(by: { $0.key < $1.key }) {
            lines.append("digits_http_requests_total{route=\"\(key.route)\",status=\"\(key.status)\"} \(value)")
        }
        lines += [
            "# HELP digits_http_request_duration_seconds Time from receiving a request to its response, by route.",
            "# TYPE digits_http_request_duration_seconds histogram",
        ]
        for (route, histogram) in latencies.sorted(by: { $0.key < $1.key }) {
            for (i, bound) in Self.latencyBuckets.enumerated() {
                lines.append("digits_http_request_duration_seconds_bucket{route=\"\(route)\",le=\"\(bound)\"} \(histogram.buckets[i])")
            }
            lines.append("digits_http_request_duration_seconds_bucket{route=\"\(route)\",le=\"+Inf\"} \(histogram.count)")
            lines.append("digits_http_request_duration_seconds_sum{route=\"\(route)\"} \(histogram.sum)")
            lines.append("digits_http_request_duration_seconds_count{route=\"\(route)\"} \(histogram.count)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Times every request, records it in `ServerMetrics`, and turns errors thrown below it (such as the
/// router's 404 and 405) into `{"error": "..."}` responses with their status.
struct MetricsAndErrorsMiddleware<Context: RequestContext>: RouterMiddleware {
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context,
                next: (Request, Context) async throws -> Response) async throws -> Response {
        let start = ContinuousClock.now
        let response: Response
        do {
            response = try await next(request, context)
        } catch let error as any HTTPResponseError {
            let message = (error as? HTTPError)?.body ?? "\(error.status.code) \(error.status.reasonPhrase)"
            response = errorResponse(APIError(status: error.status, message: message))
        } catch {
            response = errorResponse(APIError(status: .internalServerError, message: "internal error"))
        }
        let elapsed = ContinuousClock.now - start
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        metrics.record(route: ServerMetrics.routeLabel(for: request.uri.path), status: response.status.code, seconds: seconds)
        return response
    }
}
