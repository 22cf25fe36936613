-- Deduplication written the way Flink users often write it: ROW_NUMBER()
-- in a view, the rownum filter outside (Flink matches the pattern after
-- inlining the view). Keep-last per user_id on arrival order; u1's second
-- record replaces the first, u3's JSON null name is kept as NULL.
CREATE TABLE users (
    user_id STRING NOT NULL,
    name STRING,
    proc_time AS PROCTIME()
) WITH ('connector' = 'kafka', 'topic' = 'users', 'format' = 'json');

CREATE TABLE current_users (
    user_id STRING,
    name STRING,
    PRIMARY KEY (user_id) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = 'current-users', 'key.format' = 'json', 'value.format' = 'json');

CREATE VIEW ranked AS
SELECT *, ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY proc_time DESC) AS rownum
FROM users;

INSERT INTO current_users
SELECT user_id, name FROM ranked WHERE rownum = 1;
