-- purchases_by_user: purchase counts and amounts per user, read from files.
--
-- Runs as is with `runnel run` after `runnel gen s5 --out data/`:
--   build/runnel run examples/purchases_by_user.sql
-- prints the changelog of the result ({"op":"+U","value":{...}} per change).
-- AVG of an INT is an INT (truncated, as in Flink): the average is taken of
-- the amount as a DOUBLE to keep its fraction.
CREATE TABLE purchases (
  amount INT,
  user_id INT,
  page_id INT,
  `timestamp` DOUBLE
) WITH ('connector' = 'filesystem', 'path' = 'data/purchases.jsonl', 'format' = 'json');

CREATE VIEW big_purchases AS
SELECT user_id, amount FROM purchases WHERE amount >= 1000;

CREATE TABLE purchases_by_user (
  user_id INT,
  purchases BIGINT,
  total BIGINT,
  biggest INT,
  average DOUBLE
) WITH ('connector' = 'print');

INSERT INTO purchases_by_user
SELECT user_id, COUNT(*), SUM(amount), MAX(amount), AVG(CAST(amount AS DOUBLE))
FROM big_purchases
GROUP BY user_id
HAVING COUNT(*) > 1;
