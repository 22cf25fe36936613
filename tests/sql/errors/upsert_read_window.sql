-- Error case: window aggregates need an insert-only input; an upsert table
-- reads as a changelog, even with a WATERMARK.
CREATE TABLE prices (
    id INT,
    price DOUBLE,
    ts TIMESTAMP(3),
    WATERMARK FOR ts AS ts - INTERVAL '5' SECOND,
    PRIMARY KEY (id) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = 'prices',
    'key.format' = 'json',
    'value.format' = 'json'
);

CREATE TABLE per_minute (
    window_start TIMESTAMP(3),
    n BIGINT
) WITH (
    'connector' = 'kafka',
    'topic' = 'per-minute',
    'format' = 'json'
);

INSERT INTO per_minute
SELECT window_start, COUNT(*) AS n
FROM TABLE(TUMBLE(TABLE prices, DESCRIPTOR(ts), INTERVAL '1' MINUTE))
GROUP BY window_start, window_end;
