-- A delivery changes status two or three times (queued → sending → sent or failed, then maybe
-- delivered). deliveries_unsettled_idx indexed `status`, so every one of those updates wrote a
-- new entry into each of the table's five indexes. Without it no indexed column changes, and
-- with room left on each page (fillfactor 80) the updates stay on the page (HOT): no index
-- entries at all. The deliveries still unsettled are found by channel or by follow-up, as the
-- delivery report and the CLI look for them, through those indexes.
DROP INDEX deliveries_unsettled_idx;
ALTER TABLE deliveries SET (fillfactor = 80);
