import Foundation
import Postgres
import Wallet

/// The anchor of `followup bench followups`: the rows and postings one follow-up costs, written
/// by bare SQL under pgbench on the same database, right after the product's run — so the
/// figure says how close the product comes to its own schema's ceiling.
///
/// One pgbench script run is one follow-up, in the transactions the product commits (captured
/// with `pg_stat_statements` from a real run: 5 commits; see README "Benchmarks"):
/// 1. the offline check: the customer's presence lock and the chat's row lock, the follow-up
///    row, its text and email deliveries with their jobs (`public.jobs_enqueue`), the follow-up
///    ended `notified`, the check's job completed — without waiting for the disk, as the product;
/// 2. the text, before the provider call: its job fenced, `wallet.hold`, marked `sending`;
/// 3. after it: marked `sent`, `wallet.capture`, its job completed;
/// 4. and 5. the email, the same without the wallet.
/// Each job's claim is one `UPDATE` here, in the transaction that enqueued it (the product claims
/// 50 per statement and commit, so that costs the anchor a little more than the product).
/// Left out: the reads that only decide (the offline check's chat, unseen-answer and limit reads,
/// the delivery's context read), the batched claims (one statement per 50 jobs) and the
/// provider calls. So the anchor is a ceiling: the writes alone.
enum FollowUpsAnchor {
    struct Result {
        var followUpsPerSecond: Double
        var clients: Int
        var transactions: Int
    }

    /// Runs `count` follow-ups' statements over `clients` pgbench connections on chats of `channels`
    /// (chats the product's run left behind; a chat may get several follow-ups here, which the
    /// bare statements allow). Credits the channels first so every hold is covered.
    static func run(pgbench: String, url: String, pool: ConnectionPool, channels: [Int64], count: Int, clients: Int) async throws -> Result {
        let price: Int64 = 100_000
        for channel in channels {
            try await Wallet.credit(channelID: channel, amountMicros: Int64(count / max(1, channels.count) + 10) * price,
                                    reason: "benchmark anchor credit", by: "benchmark", on: pool)
        }
        let idArray = channels  // bound as a bigint[]
        guard let range = try await pool.first("""
            SELECT min(id), max(id) FROM public.chats WHERE channel_id = ANY(\(idArray)::bigint[])
            """), let low = try range.decode(Int64?.self, at: 0), let high = try range.decode(Int64?.self, at: 1) else {
            throw Pgbench.BenchmarkError("no chats to replay follow-ups on")
        }
        let perClient = max(1, count / clients)
        let rate = try Pgbench.run(pgbench, url: url, sql: script(low: low, high: high, price: price),
                                   clients: clients, transactions: perClient)
        return Result(followUpsPerSecond: rate, clients: clients, transactions: perClient * clients)
    }

    /// One follow-up, as a pgbench script (it may hold several transactions).
    static func script(low: Int64, high: Int64, price: Int64) -> String {
        """
        \\set chat random(\(low), \(high))
        BEGIN;
        SET LOCAL synchronous_commit = off;
        SELECT pg_advisory_xact_lock(1718185301, (customer_id % 2147483647)::int) FROM public.chats WHERE id = :chat;
        SELECT c.channel_id AS channel, c.customer_id AS customer FROM public.chats c WHERE c.id = :chat FOR UPDATE OF c \\gset
        SELECT public.jobs_enqueue('bench.anchor_check', jsonb_build_object('chat_id', :chat::bigint), 'default', now(), 2::smallint, 25) AS check_job \\gset
        UPDATE public.jobs SET state = 'running', attempt = 1, attempted_at = now(), lease_expires_at = now() + interval '60 seconds' WHERE id = :check_job;
        INSERT INTO public.follow_ups (channel_id, chat_id, customer_id, first_message_id, last_message_id, message_count, offline_since, offline_reason)
        VALUES (:channel, :chat, :customer, 1, 2, 1, now(), 'left the website') RETURNING id AS follow_up \\gset
        WITH d AS (
            INSERT INTO public.deliveries (follow_up_id, channel_id, chat_id, customer_id, route, status, recipient, subject, body, segments, country, price_micros)
            VALUES (:follow_up, :channel, :chat, :customer, 'sms', 'queued', '+14155550100', NULL,
                    'Acme answered your question: It left our warehouse this morning. Reply here: https://chat.example/c/1', 1, 'US', \(price))
            RETURNING id)
        SELECT d.id AS sms, public.jobs_enqueue('bench.anchor_deliver', jsonb_build_object('delivery_id', d.id), 'default', now(), 2::smallint, 25) AS sms_job FROM d \\gset
        WITH d AS (
            INSERT INTO public.deliveries (follow_up_id, channel_id, chat_id, customer_id, route, status, recipient, subject, body, html, segments, country)
            VALUES (:follow_up, :channel, :chat, :customer, 'email', 'queued', 'customer@example.com', 'Acme answered your question',
                    'It left our warehouse this morning; tracking number 1Z999AA10123456784.', '<p>It left our warehouse this morning.</p>', 1, 'US')
            RETURNING id)
        SELECT d.id AS email, public.jobs_enqueue('bench.anchor_deliver', jsonb_build_object('delivery_id', d.id), 'default', now(), 2::smallint, 25) AS email_job FROM d \\gset
        UPDATE public.follow_ups SET status = 'notified', reason = 'customer left; text and email', finished_at = now() WHERE id = :follow_up;
        WITH d AS (DELETE FROM public.jobs WHERE id = :check_job AND attempt = 1 AND state = 'running' RETURNING *)
        INSERT INTO public.job_history (id, queue, kind, state, priority, attempt, max_attempts, unique_key, errors, created_at, run_at, attempted_at, attempted_by, finished_at)
        SELECT d.id, d.queue, d.kind, 'completed', d.priority, d.attempt, d.max_attempts, d.unique_key, nullif(d.errors, '[]'), d.created_at, d.run_at, d.attempted_at, d.attempted_by, now() FROM d;
        UPDATE public.jobs SET state = 'running', attempt = 1, attempted_at = now(), lease_expires_at = now() + interval '60 seconds' WHERE id IN (:sms_job, :email_job);
        COMMIT;
        BEGIN;
        SELECT FROM public.jobs WHERE id = :sms_job AND attempt = 1 AND state = 'running' FOR UPDATE;
        SELECT status, available FROM wallet.hold(:channel::bigint, :sms::bigint, \(price), 'sms');
        UPDATE public.deliveries SET status = 'sending', sending_at = coalesce(sending_at, now()), attempts = attempts + 1,
            price_micros = \(price), updated_at = now() WHERE id = :sms;
        COMMIT;
        BEGIN;
        UPDATE public.deliveries SET status = 'sent', provider_message_id = 'SManchor' || :sms::bigint, sent_at = now(), cost_micros = price_micros,
            finished_at = now(), updated_at = now() WHERE id = :sms;
        SELECT wallet.capture(:sms::bigint);
        WITH d AS (DELETE FROM public.jobs WHERE id = :sms_job AND attempt = 1 AND state = 'running' RETURNING *)
        INSERT INTO public.job_history (id, queue, kind, state, priority, attempt, max_attempts, unique_key, errors, created_at, run_at, attempted_at, attempted_by, finished_at)
        SELECT d.id, d.queue, d.kind, 'completed', d.priority, d.attempt, d.max_attempts, d.unique_key, nullif(d.errors, '[]'), d.created_at, d.run_at, d.attempted_at, d.attempted_by, now() FROM d;
        COMMIT;
        BEGIN;
        SELECT FROM public.jobs WHERE id = :email_job AND attempt = 1 AND state = 'running' FOR UPDATE;
        UPDATE public.deliveries SET status = 'sending', sending_at = coalesce(sending_at, now()), attempts = attempts + 1,
            price_micros = 0, updated_at = now() WHERE id = :email;
        COMMIT;
        BEGIN;
        UPDATE public.deliveries SET status = 'sent', provider_message_id = '<anchor-' || :email::bigint || '@example.com>', sent_at = now(),
            cost_micros = 0, finished_at = now(), updated_at = now() WHERE id = :email;
        WITH d AS (DELETE FROM public.jobs WHERE id = :email_job AND attempt = 1 AND state = 'running' RETURNING *)
        INSERT INTO public.job_history (id, queue, kind, state, priority, attempt, max_attempts, unique_key, errors, created_at, run_at, attempted_at, attempted_by, finished_at)
        SELECT d.id, d.queue, d.kind, 'completed', d.priority, d.attempt, d.max_attempts, d.unique_key, nullif(d.errors, '[]'), d.created_at, d.run_at, d.attempted_at, d.attempted_by, now() FROM d;
        COMMIT;
        """
    }
}
