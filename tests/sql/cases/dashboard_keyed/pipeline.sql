-- A keyed count into a 'dashboard' table (docs/dashboard.md). In `runnel
-- test` it is written like any upsert sink: OUT/page_counts.jsonl, one
-- {"key", "value"} line per key with its last change in the batch; a page
-- seen a third time leaves the HAVING: /about is inserted and deleted
-- within the one batch of this input, so nothing is written for it.
CREATE TABLE clicks (
    user_id BIGINT,
    page STRING
) WITH ('connector' = 'kafka', 'topic' = 'clicks', 'format' = 'json');

CREATE TABLE page_counts (
    page STRING,
    views BIGINT,
    PRIMARY KEY (page) NOT ENFORCED
) WITH ('connector' = 'dashboard', 'dashboard.max-rows' = '10', 'dashboard.chart' = 'bars');

INSERT INTO page_counts
SELECT page, COUNT(*) FROM clicks GROUP BY page HAVING COUNT(*) < 3;
