-- One source, a filtering view, two INSERTs: an append 'print' sink (written
-- to <table name>.jsonl) and an upsert sink fed by an aggregate over the view.
CREATE TABLE user_events (
    event_type STRING,
    user_id INT,
    page_id INT,
    `timestamp` DOUBLE
) WITH (
    'connector' = 'kafka',
    'topic' = 'user-events',
    'format' = 'json'
);

CREATE VIEW purchases_v AS
SELECT user_id, page_id
FROM user_events
WHERE event_type = 'purchase';

CREATE TABLE purchase_log (
    user_id INT,
    page_id INT
) WITH (
    'connector' = 'print'
);

CREATE TABLE purchase_counts (
    user_id INT,
    purchases BIGINT,
    pages BIGINT,
    PRIMARY KEY (user_id) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = 'purchase-counts',
    'key.format' = 'json',
    'value.format' = 'json'
);

INSERT INTO purchase_log
SELECT user_id, page_id FROM purchases_v;

INSERT INTO purchase_counts
SELECT user_id, COUNT(*), COUNT(DISTINCT page_id) FROM purchases_v GROUP BY user_id;
