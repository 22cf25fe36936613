-- Kafka integration test of reading an upsert table (test_upsert_source.py):
-- ${IN_TOPIC} holds keyed records, updates and tombstones of products
-- ('value.fields-include' = 'EXCEPT_KEY': the id is in the record key only).
-- Read in group ${GROUP}, to the end of the topic as it was at the start
-- (${BOUNDED} = 'latest-offset') or on until stopped ('unbounded'):
-- the products per category (an updating GROUP BY through a repartition
-- topic, which must follow every update and delete) into ${COUNTS_TOPIC},
-- and the table itself into ${COPY_TOPIC}.
CREATE TABLE products (
  id INT, category STRING, price DOUBLE, PRIMARY KEY (id) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = '${IN_TOPIC}',
        'key.format' = 'json', 'value.format' = 'json',
        'value.fields-include' = 'EXCEPT_KEY',
        'scan.startup.mode' = 'earliest-offset', 'scan.bounded.mode' = '${BOUNDED}',
        'properties.group.id' = '${GROUP}');
CREATE TABLE category_counts (
  category STRING, n BIGINT, total DOUBLE, PRIMARY KEY (category) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = '${COUNTS_TOPIC}',
        'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE products_copy (
  id INT, category STRING, price DOUBLE, PRIMARY KEY (id) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = '${COPY_TOPIC}',
        'key.format' = 'json', 'value.format' = 'json');
INSERT INTO category_counts
SELECT category, COUNT(*) AS n, SUM(price) AS total FROM products GROUP BY category;
INSERT INTO products_copy SELECT id, category, price FROM products;
