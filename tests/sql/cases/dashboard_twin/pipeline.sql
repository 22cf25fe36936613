-- 'dashboard' = 'true' on other sinks changes nothing they write: the
-- upsert-kafka table and the filesystem table get the same records as
-- without it (their in-memory dashboard twins write no file).
CREATE TABLE clicks (
    user_id BIGINT,
    page STRING
) WITH ('connector' = 'kafka', 'topic' = 'clicks', 'format' = 'json');

CREATE TABLE page_counts (
    page STRING,
    views BIGINT,
    PRIMARY KEY (page) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = 'page-counts', 'key.format' = 'json',
        'value.format' = 'json', 'dashboard' = 'true', 'dashboard.sort' = 'page ASC');

CREATE TABLE user_counts (
    user_id BIGINT,
    clicks BIGINT
) WITH ('connector' = 'print', 'dashboard' = 'true', 'dashboard.key' = 'user_id');

CREATE TABLE click_log (
    user_id BIGINT,
    page STRING
) WITH ('connector' = 'filesystem', 'path' = 'click_log.jsonl', 'format' = 'json',
        'dashboard' = 'true', 'dashboard.max-rows' = '2');

INSERT INTO page_counts SELECT page, COUNT(*) FROM clicks GROUP BY page;
INSERT INTO user_counts SELECT user_id, COUNT(*) FROM clicks GROUP BY user_id;
INSERT INTO click_log SELECT user_id, page FROM clicks WHERE page <> '/cart';
