import Logging
import Postgres
import ServiceLifecycle

/// LISTENs on channel `jobs` (the insert trigger NOTIFYs the queue's name) and wakes that queue's
/// claim loops; on (re)connecting it wakes them all, since notifications sent meanwhile were lost.
final class NotificationListener: Service, Sendable {
    private let configuration: PostgresConfiguration
    private let slots: QueueSlots
    private let logger: Logger

    init(configuration: PostgresConfiguration, slots: QueueSlots, logger: Logger) {
        self.configuration = configuration
        self.slots = slots
        self.logger = logger
    }

    func run() async throws {
        let listener = Listener(configuration, channels: ["jobs"], logger: logger)
        await withGracefulShutdownHandler {
            for await event in listener.events {
                switch event {
                case .notification(let notification): slots.wake(notification.payload)
                case .listening: slots.wakeAll()
                }
            }
        } onGracefulShutdown: {
            listener.stop()
        }
        listener.stop()
    }
}
