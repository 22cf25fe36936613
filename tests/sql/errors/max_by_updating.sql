-- Error case: MAX_BY over an updating input (it cannot retract a row).
CREATE TABLE events (user_id INT, amount INT)
  WITH ('connector' = 'kafka', 'topic' = 'events', 'format' = 'json');

CREATE TABLE out_rows (n BIGINT, top_user INT, PRIMARY KEY (n) NOT ENFORCED)
  WITH ('connector' = 'upsert-kafka', 'topic' = 'out', 'key.format' = 'json', 'value.format' = 'json');

INSERT INTO out_rows
SELECT n, MAX_BY(user_id, total)
FROM (SELECT user_id, COUNT(*) AS n, SUM(amount) AS total FROM events GROUP BY user_id)
GROUP BY n;
