-- page_views: page views and distinct viewers per page (scenario S5 input).
--
-- Flink SQL, runnable unchanged by `runnel test` (files) and, with the
-- Kafka connector, `runnel run`. The result is an upsert table keyed by
-- page_id: every change to a page's counts replaces the previous one.
-- `views` is quoted: it is a reserved word in Flink SQL.
CREATE TABLE user_events (
  event_type STRING,
  user_id INT,
  page_id INT,
  `timestamp` DOUBLE
) WITH ('connector' = 'kafka', 'topic' = 'user-events', 'format' = 'json');

CREATE TABLE page_views (
  page_id INT,
  `views` BIGINT,
  users BIGINT,
  PRIMARY KEY (page_id) NOT ENFORCED
) WITH ('connector' = 'upsert-kafka', 'topic' = 'page-views',
        'key.format' = 'json', 'value.format' = 'json');

INSERT INTO page_views
SELECT page_id, COUNT(*) AS `views`, COUNT(DISTINCT user_id) AS users
FROM user_events
WHERE event_type = 'page-view'
GROUP BY page_id;
