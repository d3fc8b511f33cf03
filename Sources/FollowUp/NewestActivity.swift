import Postgres

/// The customer's newest `activity` row (kind, at), as one fragment: the offline check reads it
/// under the chat's lock (`ChatState.lockQuery`) and `bench activity-growth` times it.
///
/// `activity` is partitioned by day and has a default partition (docs/scale.md), which rules out
/// Postgres' ordered scan of the partitions (newest day first, stop at the first row): a plain
/// `ORDER BY at DESC LIMIT 1` probes every day's index. The offline check runs minutes after the
/// customer's last heartbeat, so the newest row is almost always from the last day: the first
/// branch looks there alone (the bounds on `now()` prune the other days when the plan starts)
/// and the whole table is probed only when it finds nothing. An `Append` runs its branches in
/// order and `LIMIT 1` stops it at the first row, so the second branch then never runs. The
/// answer is the same either way: if any row is from the last day, the newest row is too (no row
/// is more than 5 minutes ahead of the clock: `activity_at_not_in_future`).
public enum NewestActivity {
    /// Columns `kind`, `at`; no row when the customer has none. `customer`: a value or a column.
    public static func query(customer: Query) -> Query {
        """
        (SELECT a.kind, a.at FROM public.activity a
          WHERE a.customer_id = \(customer) AND a.at > now() - interval '1 day' AND a.at <= now() + interval '5 minutes'
          ORDER BY a.at DESC LIMIT 1)
        UNION ALL
        (SELECT a.kind, a.at FROM public.activity a WHERE a.customer_id = \(customer) ORDER BY a.at DESC LIMIT 1)
        LIMIT 1
        """
    }
}
