-- An upsert table with event time: a tombstone has no event time (its
-- value is null) and is still a delete, not a dead letter; a value whose
-- event time is NULL is a dead letter as in any table with a WATERMARK.
-- The key column comes from the record key only
-- ('value.fields-include' = 'EXCEPT_KEY').
CREATE TABLE prices (
    sku STRING,
    price DOUBLE,
    ts TIMESTAMP(3),
    WATERMARK FOR ts AS ts - INTERVAL '5' SECOND,
    PRIMARY KEY (sku) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = 'prices',
    'key.format' = 'json',
    'value.format' = 'json',
    'value.fields-include' = 'EXCEPT_KEY'
);

CREATE TABLE price_changes (
    sku STRING,
    price DOUBLE,
    ts TIMESTAMP(3)
) WITH ('connector' = 'print');

INSERT INTO price_changes SELECT sku, price, ts FROM prices;
