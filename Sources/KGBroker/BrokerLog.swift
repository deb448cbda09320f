/// Where broker components send their log lines. Inject your logger:
///
/// ```swift
/// let subscriber = StatusSubscriber(url: url, exchange: topology.statusExchange,
///                                   log: { logger.info("\($0)") }) { key, body in … }
/// ```
///
/// The closure is called from broker threads, so it must be thread-safe.
public typealias BrokerLog = @Sendable (String) -> Void
