/// What a job handler wants done with its message.
public enum JobDisposition: Sendable, Equatable {
    /// Done (or nothing to do): remove the message.
    case ack
    /// Try again later: nack with requeue.
    case requeue
    /// Give up: reject without requeue, so the queue's dead-letter exchange gets it.
    case deadLetter
}
