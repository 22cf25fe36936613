-- S1 logins: "log in, buy nothing for 10 minutes, get nudged"
-- (../shared/SCENARIOS.md).
--
-- Per user, in event time: a login starts a 10-minute timer, a newer login
-- or a purchase within those 10 minutes cancels it, and when it runs out
-- one notification is written. This is an interval LEFT JOIN of logins
-- with the same user's later logins and purchases: a login without a
-- partner within (t, t + 10 min] is emitted NULL-padded exactly once, when
-- the watermark passes t + 10 min, and `a.user_id IS NULL` keeps those.
-- Out-of-order input (5 s bound) is handled by the watermark; when the
-- topic goes quiet, event time follows the wall clock after
-- 'scan.watermark.quiet-timeout', so the last timers fire without new data.
--
--   runnel gen s1 --out data/ && runnel test examples/s1_logins.sql --input data --output out
--   runnel run examples/s1_logins.sql --brokers localhost:9092
CREATE TABLE user_actions (
  user_id BIGINT NOT NULL,
  action STRING NOT NULL,
  `timestamp` TIMESTAMP(3) NOT NULL,
  WATERMARK FOR `timestamp` AS `timestamp` - INTERVAL '5' SECOND
) WITH (
  'connector' = 'kafka',
  'topic' = 'user_actions',
  'format' = 'json',
  'scan.watermark.idle-timeout' = '5 s',
  'scan.watermark.quiet-timeout' = '30 s'
);

CREATE TABLE notifications (
  user_id BIGINT,
  message STRING,
  login_ts BIGINT
) WITH (
  'connector' = 'kafka',
  'topic' = 'notifications',
  'format' = 'json'
);

INSERT INTO notifications
SELECT l.user_id, 'Сделайте покупку!' AS message, CAST(l.`timestamp` AS BIGINT) AS login_ts
FROM user_actions l
LEFT JOIN user_actions a
  ON a.user_id = l.user_id
  AND a.action IN ('login', 'purchase')
  AND a.`timestamp` > l.`timestamp`
  AND a.`timestamp` <= l.`timestamp` + INTERVAL '10' MINUTE
WHERE l.action = 'login' AND a.user_id IS NULL;
