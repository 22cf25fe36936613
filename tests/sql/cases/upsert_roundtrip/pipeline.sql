-- An upsert sink's output file reads back as an upsert source: the input is
-- what the upsert_source case writes to category-counts ({"key": K,
-- "value": V|null} lines), and reading it gives the changelog of the table
-- those records stand for: an update of a category retracts its previous
-- row, a tombstone deletes the row the category held.
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

CREATE TABLE changes (
    category STRING,
    n BIGINT,
    total DOUBLE
) WITH ('connector' = 'print');

-- products per count: follows the updates and deletes of the categories
CREATE TABLE by_count (
    n BIGINT,
    categories BIGINT,
    PRIMARY KEY (n) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = 'by-count',
    'key.format' = 'json',
    'value.format' = 'json'
);

INSERT INTO changes SELECT category, n, total FROM category_counts;
INSERT INTO by_count SELECT n, COUNT(*) AS categories FROM category_counts GROUP BY n;
