-- Filter + projection to an append sink: arithmetic, CASE, string functions,
-- CAST, three-valued logic in WHERE (NULL event_type / user_id rows drop out),
-- a missing field (page_id) turning into NULL through +, * and CONCAT.
CREATE TABLE events (
    event_type STRING,
    user_id INT,
    page_id INT,
    `timestamp` DOUBLE
) WITH (
    'connector' = 'kafka',
    'topic' = 'user-events',
    'format' = 'json'
);

CREATE TABLE out_rows (
    user_id INT,
    page2 INT,
    kind STRING,
    tag STRING,
    type_len INT,
    ts_min DOUBLE
) WITH (
    'connector' = 'kafka',
    'topic' = 'out-rows',
    'format' = 'json'
);

INSERT INTO out_rows
SELECT user_id,
       page_id * 2 + 1,
       CASE WHEN event_type = 'purchase' THEN 'buy'
            WHEN event_type = 'click' THEN 'tap'
            ELSE 'other' END,
       CONCAT(UPPER(SUBSTRING(event_type, 1, 1)), LOWER(SUBSTRING(event_type, 2, 3)), '#',
              CAST(page_id AS STRING)),
       CHAR_LENGTH(event_type),
       `timestamp` / 60
FROM events
WHERE user_id > 2 AND event_type <> 'page-view';
