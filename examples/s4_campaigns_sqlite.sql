-- S4 campaigns on SQLite: examples/s4_campaigns.sql with its PostgreSQL
-- tables in an SQLite file instead (S4_DB, default s4.db), the embedded
-- default that needs no database server. The feedback table there has a
-- UNIQUE (adv_campaign_id, client_id), so the upsert is one INSERT .. ON
-- CONFLICT; the subscribers are looked up with a FULL cache, the whole
-- (small) table in memory, read again every 10 s.
--
--   runnel gen s4 --out data/
--   sqlite3 s4.db < examples/s4_sqlite_schema.sql && runnel run examples/s4_sqlite_load.sql
--   runnel run examples/s4_campaigns_sqlite.sql --brokers localhost:9092
--   runnel test examples/s4_campaigns_sqlite.sql --input data --output out --now 1714557600
CREATE TABLE campaigns (
  restaurant_id STRING NOT NULL,
  adv_campaign_id STRING NOT NULL,
  adv_campaign_content STRING,
  adv_campaign_owner STRING,
  adv_campaign_owner_contact STRING,
  adv_campaign_datetime_start BIGINT NOT NULL,
  adv_campaign_datetime_end BIGINT NOT NULL,
  datetime_created BIGINT,
  proc_time AS PROCTIME()
) WITH (
  'connector' = 'kafka',
  'topic' = 'campaigns',
  'format' = 'json',
  'dlq.topic' = 'dlq'
);

CREATE TABLE subscribers_restaurants (
  id INT,
  client_id STRING,
  restaurant_id STRING
) WITH (
  'connector' = 'jdbc',
  'url' = 'jdbc:sqlite:${S4_DB:-s4.db}',
  'table-name' = 'subscribers_restaurants',
  'lookup.cache' = 'FULL',
  'lookup.full-cache.periodic-reload.interval' = '10 s'
);

CREATE TABLE campaign_notifications (
  restaurant_id STRING,
  adv_campaign_id STRING,
  adv_campaign_content STRING,
  adv_campaign_owner STRING,
  adv_campaign_owner_contact STRING,
  adv_campaign_datetime_start BIGINT,
  adv_campaign_datetime_end BIGINT,
  datetime_created BIGINT,
  client_id STRING,
  trigger_datetime_created INT
) WITH (
  'connector' = 'kafka',
  'topic' = 'campaign_notifications',
  'format' = 'json'
);

CREATE TABLE subscribers_feedback (
  restaurant_id STRING,
  adv_campaign_id STRING,
  adv_campaign_content STRING,
  adv_campaign_owner STRING,
  adv_campaign_owner_contact STRING,
  adv_campaign_datetime_start BIGINT,
  adv_campaign_datetime_end BIGINT,
  datetime_created BIGINT,
  client_id STRING,
  trigger_datetime_created INT,
  PRIMARY KEY (adv_campaign_id, client_id) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = 'jdbc:sqlite:${S4_DB:-s4.db}',
  'table-name' = 'subscribers_feedback'
);

CREATE VIEW notifications AS
SELECT c.restaurant_id, c.adv_campaign_id, c.adv_campaign_content, c.adv_campaign_owner,
       c.adv_campaign_owner_contact, c.adv_campaign_datetime_start, c.adv_campaign_datetime_end,
       c.datetime_created, s.client_id,
       CAST(UNIX_TIMESTAMP() AS INT) AS trigger_datetime_created
FROM campaigns AS c
JOIN subscribers_restaurants FOR SYSTEM_TIME AS OF c.proc_time AS s
  ON s.restaurant_id = c.restaurant_id
WHERE c.adv_campaign_datetime_start <= UNIX_TIMESTAMP()
  AND UNIX_TIMESTAMP() <= c.adv_campaign_datetime_end;

INSERT INTO campaign_notifications SELECT * FROM notifications;

INSERT INTO subscribers_feedback SELECT * FROM notifications;
