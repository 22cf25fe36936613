-- Reading an upsert table (docs/kafka.md, "Reading an upsert table"): the
-- input file holds the topic's records as an upsert sink writes them,
-- {"key": K, "value": V} with V null for a delete, and plain values whose
-- key columns come from the value. The first 1024 lines are one batch
-- (they create ids 1, 2, 3 and repeat id 100's row 1021 times, which emits
-- nothing after its +I); the lines after them update, delete and re-insert
-- keys in a second batch, so the GROUP BY retracts what it emitted for the
-- first. A delete of an unknown key (9) emits nothing; a malformed value
-- (id 4) and a tombstone without a key are dead letters.
CREATE TABLE products (
    id INT,
    category STRING,
    price DOUBLE,
    PRIMARY KEY (id) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = 'products',
    'key.format' = 'json',
    'value.format' = 'json'
);

-- the changelog itself
CREATE TABLE product_changes (
    id INT,
    category STRING,
    price DOUBLE
) WITH ('connector' = 'print');

CREATE TABLE category_counts (
    category STRING,
    n BIGINT,
    total DOUBLE,
    PRIMARY KEY (category) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = 'category-counts',
    'key.format' = 'json',
    'value.format' = 'json'
);

CREATE TABLE expensive (
    id INT,
    category STRING,
    price DOUBLE,
    PRIMARY KEY (id) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = 'expensive',
    'key.format' = 'json',
    'value.format' = 'json',
    'value.fields-include' = 'EXCEPT_KEY'
);

INSERT INTO product_changes SELECT id, category, price FROM products;

INSERT INTO category_counts
SELECT category, COUNT(*) AS n, SUM(price) AS total FROM products GROUP BY category;

INSERT INTO expensive SELECT id, category, price FROM products WHERE price >= 10;
