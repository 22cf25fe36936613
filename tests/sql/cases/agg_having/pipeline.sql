-- SUM/MIN/MAX/AVG/COUNT per user with HAVING, to an upsert sink. One batch:
-- only users whose final SUM passes HAVING get a line (user 2 passes the
-- threshold half-way and falls back under it because of a negative refund;
-- user 4 never passes), in order of the users' first appearance. AVG of an
-- INT is an INT, truncated as in Flink (33); of a DOUBLE a DOUBLE (33.67).
CREATE TABLE purchases (
    amount INT,
    user_id INT,
    page_id INT,
    `timestamp` DOUBLE
) WITH (
    'connector' = 'kafka',
    'topic' = 'purchases',
    'format' = 'json'
);

CREATE TABLE user_spend (
    user_id INT,
    total BIGINT,
    smallest INT,
    largest INT,
    avg_amount INT,
    avg_exact DOUBLE,
    n BIGINT,
    PRIMARY KEY (user_id) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = 'user-spend',
    'key.format' = 'json',
    'value.format' = 'json'
);

INSERT INTO user_spend
SELECT user_id, SUM(amount), MIN(amount), MAX(amount), AVG(amount), AVG(CAST(amount AS DOUBLE)), COUNT(*)
FROM purchases
GROUP BY user_id
HAVING SUM(amount) >= 100;
