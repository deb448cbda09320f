import Metrics
import Prometheus

/// This process's own counters, through the swift-metrics facade and exported
/// by swift-prometheus: bytes streamed through this gateway and requests by
/// route and status. Per-process by nature (each replica counts its own
/// traffic; Prometheus sums replicas).
///
/// ```swift
/// let registry = GatewayMetrics.bootstrap()   // once per process, before any counter is made
/// GatewayMetrics.bytesOut(.backup).increment(by: chunk.readableBytes)
/// ```
enum GatewayMetrics {
    enum Stream: String {
        case backup, restore, verify
    }

    static let bytesName = "kg_bytes_streamed_total"
    static let requestsName = "kg_http_requests_total"

    /// Installs the Prometheus backend for swift-metrics; returns the registry `/metrics` emits.
    static func bootstrap() -> PrometheusCollectorRegistry {
        let registry = PrometheusCollectorRegistry()
        MetricsSystem.bootstrap(PrometheusMetricsFactory(registry: registry))
        // Made now, so that the series exist (at 0) from the first scrape.
        _ = bytesOut(.backup)
        _ = bytesIn(.restore)
        _ = bytesIn(.verify)
        return registry
    }

    /// Backup bytes sent to clients (`direction="out"`).
    static func bytesOut(_ stream: Stream) -> Metrics.Counter {
        Counter(label: bytesName, dimensions: [("direction", "out"), ("stream", stream.rawValue)])
    }

    /// Upload request body bytes received (`direction="in"`, multipart framing included).
    static func bytesIn(_ stream: Stream) -> Metrics.Counter {
        Counter(label: bytesName, dimensions: [("direction", "in"), ("stream", stream.rawValue)])
    }

    static func request(route: String, method: String, status: Int) -> Metrics.Counter {
        Counter(label: requestsName, dimensions: [("route", route), ("method", method), ("status", String(status))])
    }
}
