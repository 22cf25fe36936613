-- S4 campaigns: restaurant promotions fanned out to subscribers
-- (../shared/SCENARIOS.md), Kafka + PostgreSQL.
--
-- Each campaign message that is active when it is processed (start <= now
-- <= end, in epoch seconds) is joined with every subscriber of its
-- restaurant, looked up in PostgreSQL's subscribers_restaurants (a lookup
-- join: one query per input batch for all its restaurants, answers cached
-- for 'lookup.partial-cache.expire-after-write', so a new subscriber is
-- seen within that time). Every pair goes to the Kafka topic
-- campaign_notifications and to the table subscribers_feedback, upserted by
-- (adv_campaign_id, client_id): a campaign processed twice (a replay after
-- a restart) updates its rows instead of adding new ones. The table's own
-- columns id (serial) and feedback are left to the database.
--
-- The database comes from the environment (PGHOST, PGPORT, PGDATABASE,
-- PGUSER, PGPASSWORD, as for psql), localhost:5432/runnel by default.
-- examples/s4_campaigns_sqlite.sql is the same job on an SQLite file.
--
--   runnel gen s4 --out data/ && runnel test examples/s4_campaigns.sql --input data --output out --now 1714557600
--   runnel run examples/s4_campaigns.sql --brokers localhost:9092
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
  'url' = 'jdbc:postgresql://${PGHOST:-localhost}:${PGPORT:-5432}/${PGDATABASE:-runnel}',
  'username' = '${PGUSER:-runnel}',
  'password' = '${PGPASSWORD:-}',
  'table-name' = 'subscribers_restaurants',
  'lookup.cache' = 'PARTIAL',
  'lookup.partial-cache.max-rows' = '10000',
  'lookup.partial-cache.expire-after-write' = '10 s'
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
  'url' = 'jdbc:postgresql://${PGHOST:-localhost}:${PGPORT:-5432}/${PGDATABASE:-runnel}',
  'username' = '${PGUSER:-runnel}',
  'password' = '${PGPASSWORD:-}',
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
