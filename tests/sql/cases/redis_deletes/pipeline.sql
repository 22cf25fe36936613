-- Deletes: an upsert table read as a changelog gives -D for a tombstone
-- (id 1) and -U/+U for an update (id 2). Per target the last change wins:
-- id 1 becomes HDEL / ZREM / DEL, id 2 one write of its new price. A DOUBLE is sent as runnel writes it in JSON (6.0).
CREATE TABLE products (
    id INT,
    category STRING,
    price DOUBLE,
    PRIMARY KEY (id) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = 'products', 'key.format' = 'json', 'value.format' = 'json');

CREATE TABLE price_hash (id INT, price DOUBLE)
WITH ('connector' = 'redis', 'host' = 'localhost', 'command' = 'HSET', 'key' = 'prices',
      'field.column' = 'id', 'value.column' = 'price');
CREATE TABLE by_price (id INT, price DOUBLE)
WITH ('connector' = 'redis', 'host' = 'localhost', 'command' = 'ZADD', 'key' = 'by_price',
      'field.column' = 'id', 'value.column' = 'price');
CREATE TABLE category (id INT, category STRING)
WITH ('connector' = 'redis', 'host' = 'localhost', 'command' = 'SET', 'key' = 'product:{id}:category',
      'value.column' = 'category');

INSERT INTO price_hash SELECT id, price FROM products;
INSERT INTO by_price SELECT id, price FROM products;
INSERT INTO category SELECT id, category FROM products;
