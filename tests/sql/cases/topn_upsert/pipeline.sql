-- Top-N over an updating input: an upsert table read as a changelog. An
-- update retracts the old row (the next one moves up) and a tombstone
-- deletes it; item b drops from first to last, c is deleted.
CREATE TABLE prices (item STRING, cat STRING, price INT, PRIMARY KEY (item) NOT ENFORCED)
  WITH ('connector' = 'upsert-kafka', 'topic' = 'prices', 'key.format' = 'json', 'value.format' = 'json');
CREATE TABLE top2 (cat STRING, item STRING, price INT, rk BIGINT) WITH ('connector' = 'print');
INSERT INTO top2 SELECT cat, item, price, rk FROM (
  SELECT cat, item, price, ROW_NUMBER() OVER (PARTITION BY cat ORDER BY price DESC) AS rk FROM prices) WHERE rk <= 2;
