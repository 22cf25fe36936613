-- The aggregate FILTER (WHERE ...) clause (Nexmark q15-q17) and SPLIT_INDEX
-- (Nexmark q22). FILTER: only rows whose condition is TRUE count (a NULL
-- price is not < 100); COUNT(DISTINCT x) FILTER counts the distinct x of
-- those rows; no row passing gives 0 for COUNT and NULL for SUM.
-- SPLIT_INDEX: pieces from 0, empty pieces count ('a//b'), NULL past the
-- last piece, for a negative index, an empty string or an empty separator.
CREATE TABLE bids (
    k STRING,
    price BIGINT,
    bidder BIGINT,
    url STRING
) WITH ('connector' = 'kafka', 'topic' = 'bids', 'format' = 'json');

CREATE TABLE dirs (
    k STRING,
    dir1 STRING,
    host STRING,
    neg STRING,
    nosep STRING
) WITH ('connector' = 'kafka', 'topic' = 'dirs', 'format' = 'json');

CREATE TABLE stats (
    k STRING,
    total BIGINT,
    cheap BIGINT,
    big_bidders BIGINT,
    sum1 BIGINT,
    max_cheap BIGINT,
    PRIMARY KEY (k) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = 'stats', 'key.format' = 'json', 'value.format' = 'json');

INSERT INTO dirs
SELECT k, SPLIT_INDEX(url, '/', 3), split_index(url, '/', 2), SPLIT_INDEX(url, '/', -1), SPLIT_INDEX(url, '', 0)
FROM bids;

INSERT INTO stats
SELECT k,
       COUNT(*),
       count(*) filter (where price < 100),
       COUNT(DISTINCT bidder) FILTER (WHERE price >= 10),
       SUM(price) FILTER (WHERE bidder = 1),
       MAX(price) FILTER (WHERE price < 100)
FROM bids
GROUP BY k;
