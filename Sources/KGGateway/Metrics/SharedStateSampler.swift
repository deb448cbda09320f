import Foundation
import KGBroker
import KGService
import NIOPosix

/// Queue depths (a passive declare on the probe's own broker thread) and temp
/// storage usage (a directory scan on NIO's thread pool), each cached for
/// `maxAge` seconds so that frequent scrapes by several Prometheus servers cost
/// the broker and the disk almost nothing. Never blocks the event loop.
actor SharedStateSampler {
    private let probe: QueueProbe?
    private let queues: [String]
    private let storage: TempStorage
    private let maxAge: Double
    /// The job queue, for the broker nodes this gateway uses and the cluster's majority.
    let queue: JobQueue?
    private var queueSample: (at: Date, stats: [QueueStats]?)?
    private var tempSample: (at: Date, bytes: Int, files: Int)?

    init(probe: QueueProbe?, queues: [String], storage: TempStorage, queue: JobQueue? = nil, maxAge: Double = 5) {
        self.probe = probe
        self.queue = queue
        self.queues = queues
        self.storage = storage
        self.maxAge = maxAge
    }

    /// The queues' stats, or nil when the broker cannot be asked.
    func queueStats() async -> [QueueStats]? {
        if let sample = queueSample, Date().timeIntervalSince(sample.at) < maxAge { return sample.stats }
        var stats: [QueueStats]?
        if let probe { stats = try? await probe.read(queues) }
        queueSample = (Date(), stats)
        return stats
    }

    func tempUsage() async -> (bytes: Int, files: Int) {
        if let sample = tempSample, Date().timeIntervalSince(sample.at) < maxAge { return (sample.bytes, sample.files) }
        let storage = self.storage
        let usage: (bytes: Int, files: Int) = (try? await NIOThreadPool.singleton.runIfActive { storage.usage() }) ?? (0, 0)
        tempSample = (Date(), usage.bytes, usage.files)
        return usage
    }
}
