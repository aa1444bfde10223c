import CoreMetrics
import Foundation
import Prometheus

/// What `GET /metrics` reports, in Prometheus text format: requests by route and
/// status, tokens, queue depth, active generations, and histograms of time to
/// first token and time per token. Recorded through swift-metrics into a
/// registry of this server's own (no process-wide bootstrap).
final class ServerMetrics: Sendable {
    private let registry = PrometheusCollectorRegistry()
    private let factory: PrometheusMetricsFactory
    private let generatedTokens: CoreMetrics.Counter
    private let promptTokens: CoreMetrics.Counter
    private let queueDepth: CoreMetrics.Gauge
    private let activeGenerations: CoreMetrics.Gauge
    private let timeToFirstToken: CoreMetrics.Timer
    private let timePerToken: CoreMetrics.Timer
    private let stalledStreams: CoreMetrics.Counter

    /// Routes counted under their own name; anything else is "other", so that
    /// random paths cannot create unbounded label values.
    static let routes: Set<String> = ["/", "/generate", "/health", "/model", "/metrics", "/v1/completions", "/v1/models"]

    init() {
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets = [
            "gpt_time_to_first_token_seconds": [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000].map { .milliseconds($0) },
            "gpt_time_per_token_seconds": [0.5, 1, 2, 5, 10, 20, 50, 100, 200, 500, 1000].map { .microseconds(Int64($0 * 1000)) },
        ]
        self.factory = factory
        generatedTokens = Counter(label: "gpt_generated_tokens_total", factory: factory)
        promptTokens = Counter(label: "gpt_prompt_tokens_total", factory: factory)
        queueDepth = Gauge(label: "gpt_queue_depth", factory: factory)
        activeGenerations = Gauge(label: "gpt_active_generations", factory: factory)
        timeToFirstToken = Timer(label: "gpt_time_to_first_token_seconds", factory: factory)
        timePerToken = Timer(label: "gpt_time_per_token_seconds", factory: factory)
        stalledStreams = Counter(label: "gpt_stalled_streams_total", factory: factory)
    }

    func request(path: String, status: Int) {
        let route = Self.routes.contains(path) ? path : "other"
        Counter(label: "http_requests_total", dimensions: [("route", route), ("status", "\(status)")], factory: factory)
            .increment()
    }

    /// A stream cancelled because its client stopped reading.
    func streamStalled() {
        stalledStreams.increment()
    }

    /// A finished generation's tokens and latencies.
    func generation(_ summary: JobSummary) {
        generatedTokens.increment(by: summary.usage.generatedTokens)
        if summary.prefilled { promptTokens.increment(by: summary.usage.promptTokens) }
        if let first = summary.timeToFirstTokenMilliseconds {
            timeToFirstToken.recordNanoseconds(Int64(first * 1_000_000))
        }
        if summary.timings.decodedTokens > 0 {
            timePerToken.recordNanoseconds(Int64(summary.timings.millisecondsPerToken * 1_000_000))
        }
    }

    /// The text exposition, with the gauges read at scrape time.
    func exposition(active: Int, queued: Int) -> [UInt8] {
        activeGenerations.record(active)
        queueDepth.record(queued)
        return registry.emitToBuffer()
    }
}
