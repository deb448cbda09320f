import Foundation
import Hummingbird
import KGDatabase
import NIOCore
import Prometheus

/// `GET /metrics`: Prometheus text. Shared truths (jobs by type and status,
/// durations of finished jobs, rollbacks, retries) are read from the jobs
/// table (at most once per `metrics_cache_s`: ``JobStatisticsCache``), so every
/// replica reports the same numbers and work
/// done by workers (which have no HTTP server) shows; queue depth and temp
/// storage come from the broker and the disk (cached); this process's own
/// counters (bytes streamed, requests) come from the swift-metrics registry.
struct MetricsRoutes {
    let jobStatistics: JobStatisticsCache
    let sampler: SharedStateSampler
    let registry: PrometheusCollectorRegistry?
    /// The workers heard from lately (their presence events).
    let workers: WorkerRoster

    static let jobTypes = ["backup", "restore", "stitch", "prune"]
    static let statuses = ["queued", "running", "completed", "failed", "cancelled"]
    /// Seconds: backups and restores run from under a second to an hour.
    static let durationBuckets: [Double] = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600]

    func register(on router: Router<GatewayRequestContext>) {
        router.get("/metrics") { _, _ -> Response in
            var bytes = Array(await render().utf8)
            registry?.emit(into: &bytes)
            return Response(
                status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
    }

    func render() async -> String {
        var text = PrometheusText()
        let stats = await jobStatistics.statistics()
        let queues = await sampler.queueStats()
        let temp = await sampler.tempUsage()

        text.family(
            "kg_dependency_up", type: "gauge",
            help: "1 when this gateway could read the dependency at its latest read (database: at most metrics_cache_s ago; broker: 5 s), else 0.")
        text.sample("kg_dependency_up", labels: [("dependency", "database")], stats == nil ? 0 : 1)
        text.sample("kg_dependency_up", labels: [("dependency", "broker")], queues == nil ? 0 : 1)

        if let stats {
            text.family("kg_jobs", type: "gauge", help: "Jobs in the jobs table by type and status (shared by all replicas).")
            var types = Self.jobTypes
            for key in stats.counts.keys where !types.contains(key.jobType) { types.append(key.jobType) }
            for type in types {
                for status in Self.statuses {
                    let n = stats.counts[.init(jobType: type, status: status)] ?? 0
                    text.sample("kg_jobs", labels: [("job_type", type), ("status", status)], n)
                }
            }
            text.family(
                "kg_job_duration_seconds", type: "histogram",
                help: "Run time (started to ended) of finished jobs, by type and final status.")
            for key in stats.durations.keys.sorted() {
                guard let histogram = stats.durations[key] else { continue }
                let labels = [("job_type", key.jobType), ("status", key.status)]
                for bucket in histogram.buckets {
                    text.sample("kg_job_duration_seconds_bucket", labels: labels + [("le", PrometheusText.format(bucket.le))], bucket.count)
                }
                text.sample("kg_job_duration_seconds_bucket", labels: labels + [("le", "+Inf")], histogram.count)
                text.sample("kg_job_duration_seconds_sum", labels: labels, histogram.sum)
                text.sample("kg_job_duration_seconds_count", labels: labels, histogram.count)
            }
            text.family(
                "kg_restore_rollbacks", type: "gauge",
                help: "Restores that ran and were rolled back (ended failed or cancelled), by final status.")
            for status in ["failed", "cancelled"] {
                text.sample("kg_restore_rollbacks", labels: [("status", status)], stats.restoreRollbacks[status] ?? 0)
            }
            text.family(
                "kg_job_retried_attempts", type: "gauge",
                help: "Attempts beyond the first (a worker died or hung and another took the job over), by job type.")
            for type in types {
                text.sample("kg_job_retried_attempts", labels: [("job_type", type)], stats.retriedAttempts[type] ?? 0)
            }
        }
        if let queues {
            text.family("kg_queue_messages", type: "gauge", help: "Messages ready in a broker queue (jobs waiting for a worker; dead letters).")
            for queue in queues { text.sample("kg_queue_messages", labels: [("queue", queue.queue)], queue.messages) }
            text.family("kg_queue_consumers", type: "gauge", help: "Consumers of a broker queue (for the job queue: workers taking jobs).")
            for queue in queues { text.sample("kg_queue_consumers", labels: [("queue", queue.queue)], queue.consumers) }
        }
        text.family(
            "kg_metrics_job_table_reads_total", type: "counter",
            help: "Reads of the jobs table made by this gateway's /metrics (at most one per metrics_cache_s).")
        text.sample("kg_metrics_job_table_reads_total", await jobStatistics.reads)
        if let broker = await sampler.queue?.brokerState() {
            text.family(
                "kg_broker_connection", type: "gauge",
                help: "1 for the broker node (host:port) each of this gateway's broker connections uses; 0 with node=\"none\" while it has none.")
            for (component, node) in [("job_publisher", broker.publisherNode), ("status_subscriber", broker.subscriberNode)] {
                text.sample("kg_broker_connection", labels: [("component", component), ("node", node ?? "none")], node == nil ? 0 : 1)
            }
            text.family("kg_broker_nodes", type: "gauge", help: "Broker nodes configured (amqp_urls).")
            text.sample("kg_broker_nodes", broker.nodes.count)
            text.family("kg_broker_nodes_reachable", type: "gauge", help: "Broker nodes that accepted a login during this scrape.")
            text.sample("kg_broker_nodes_reachable", broker.reachable.count)
            text.family(
                "kg_broker_majority", type: "gauge",
                help: "1 when a majority of the broker nodes is reachable (a quorum job queue takes jobs), else 0.")
            text.sample("kg_broker_majority", broker.hasMajority ? 1 : 0)
        }
        let workers = workers.current()
        text.family(
            "kg_worker_broker_connection", type: "gauge",
            help:
                "1 for the broker node (host:port) each connection of each worker heard from in its last three presence intervals uses; node=\"none\" and 0 while it has none."
        )
        for worker in workers {
            for (component, node) in [("job_consumer", worker.jobConsumerNode), ("status_publisher", worker.statusPublisherNode)] {
                text.sample(
                    "kg_worker_broker_connection", labels: [("worker_id", worker.id), ("component", component), ("node", node ?? "none")],
                    node == nil ? 0 : 1)
            }
        }
        text.family("kg_workers_present", type: "gauge", help: "Workers this gateway heard from in their last three presence intervals (5 s each).")
        text.sample("kg_workers_present", workers.count)
        text.family("kg_temp_storage_bytes", type: "gauge", help: "Bytes of files in temp storage (shared by gateways and workers).")
        text.sample("kg_temp_storage_bytes", temp.bytes)
        text.family("kg_temp_storage_files", type: "gauge", help: "Files in temp storage.")
        text.sample("kg_temp_storage_files", temp.files)
        return text.output
    }
}
