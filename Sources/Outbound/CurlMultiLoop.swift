import CCurl
import Foundation

/// `curl_global_init`, exactly once per process, before the first handle.
enum CurlGlobal {
    static let initialized: CURLcode = curl_shim_global_init_all()
}

/// One libcurl multi handle and the one thread that drives it.
///
/// Tasks hand over transfers with ``enqueue(_:)`` and cancellations with
/// ``requestCancel(_:)``; both wake the thread with `curl_multi_wakeup`. The
/// thread creates, configures, runs and frees every easy handle, so no libcurl
/// handle is ever touched by two threads.
///
/// `@unchecked Sendable` holds because `multi` is used only on the loop thread,
/// except for `curl_multi_wakeup` (documented as callable from any thread),
/// which is called under `shared`'s lock and only before the loop marks itself
/// stopped and frees the handle; everything else shared is inside `shared`.
final class CurlMultiLoop: @unchecked Sendable {
    private struct Shared {
        var incoming: [EasyTransfer] = []
        var cancellations: [EasyTransfer] = []
        var stopping = false
        var stopped = false
    }

    private let multi: UnsafeMutableRawPointer
    private let shared = Locked(Shared())

    init(maxConnectionsPerHost: Int, maxTotalConnections: Int) {
        precondition(CurlGlobal.initialized == CURLE_OK, "curl_global_init failed")
        guard let multi = curl_multi_init() else { fatalError("curl_multi_init failed") }
        self.multi = multi
        curl_shim_multi_setopt_long(multi, CURLMOPT_PIPELINING, Int(CURLPIPE_MULTIPLEX))
        curl_shim_multi_setopt_long(multi, CURLMOPT_MAX_HOST_CONNECTIONS, max(1, maxConnectionsPerHost))
        curl_shim_multi_setopt_long(multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, max(1, maxTotalConnections))
        // The connection cache: keep idle connections alive for reuse, up to the total.
        curl_shim_multi_setopt_long(multi, CURLMOPT_MAXCONNECTS, max(1, maxTotalConnections))

        let thread = Thread { [self] in self.run() }
        thread.name = "followup.outbound.curl"
        thread.start()
    }

    /// Queues `transfer` for the loop thread; `false` once the loop is stopping.
    func enqueue(_ transfer: EasyTransfer) -> Bool {
        shared.withLock { shared in
            guard !shared.stopping else { return false }
            shared.incoming.append(transfer)
            curl_multi_wakeup(multi)
            return true
        }
    }

    /// Asks the loop thread to abort `transfer` and fail it with `.cancelled`.
    func requestCancel(_ transfer: EasyTransfer) {
        shared.withLock { shared in
            guard !shared.stopping else { return }
            shared.cancellations.append(transfer)
            curl_multi_wakeup(multi)
        }
    }

    /// Stops the loop: in-flight transfers fail with `.cancelled`. Idempotent.
    func shutdown() {
        shared.withLock { shared in
            guard !shared.stopping else { return }
            shared.stopping = true
            curl_multi_wakeup(multi)
        }
    }

    // MARK: The loop thread

    private func run() {
        var active: [UnsafeMutableRawPointer: EasyTransfer] = [:]
        while true {
            let (incoming, cancellations, stopping) = shared.withLock { shared in
                defer {
                    shared.incoming = []
                    shared.cancellations = []
                }
                return (shared.incoming, shared.cancellations, shared.stopping)
            }

            if stopping {
                for (easy, transfer) in active {
                    curl_multi_remove_handle(multi, easy)
                    transfer.releaseEasyHandle()
                    transfer.finish(.failure(.clientShutDown()))
                }
                for transfer in incoming { transfer.finish(.failure(.clientShutDown())) }
                break
            }

            for transfer in incoming {
                do {
                    let easy = try transfer.makeEasyHandle()
                    let added = curl_multi_add_handle(multi, easy)
                    guard added == CURLM_OK else {
                        transfer.releaseEasyHandle()
                        transfer.finish(.failure(OutboundError(
                            code: .other, message: "curl_multi_add_handle failed: " + String(cString: curl_multi_strerror(added)))))
                        continue
                    }
                    active[easy] = transfer
                } catch {
                    transfer.finish(.failure(error))
                }
            }

            for transfer in cancellations {
                // Not active means it already finished (or never got a handle): nothing to do.
                guard let easy = transfer.easy, active[easy] === transfer else { continue }
                active[easy] = nil
                curl_multi_remove_handle(multi, easy)
                transfer.releaseEasyHandle()
                transfer.finish(.failure(.cancelledByTask()))
            }

            var running: Int32 = 0
            curl_multi_perform(multi, &running)

            var pending: Int32 = 0
            while let message = curl_multi_info_read(multi, &pending) {
                guard message.pointee.msg == CURLMSG_DONE, let easy = message.pointee.easy_handle else { continue }
                let result = curl_shim_msg_result(message)
                guard let transfer = active.removeValue(forKey: easy) else { continue }
                curl_multi_remove_handle(multi, easy)
                transfer.finish(transfer.complete(with: result))
            }

            // Sleeps until a socket is ready, a libcurl timer is due, or a wakeup.
            curl_multi_poll(multi, nil, 0, 1000, nil)
        }

        shared.withLock { $0.stopped = true }
        curl_multi_cleanup(multi)
    }
}
