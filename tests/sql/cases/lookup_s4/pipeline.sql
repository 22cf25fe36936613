-- S4 (SCENARIOS.md): each campaign active when processed (start <= now <=
-- end) is fanned out to the subscribers of its restaurant, looked up by
-- restaurant_id in a 'jdbc' table (a lookup join in processing time). In
-- `runnel test` the table is IN/subscribers_restaurants.jsonl and --now
-- fixes processing time: campaign c3 has ended, c4 has not started, the
-- restaurant of c5 has no subscribers (an inner join drops it).
CREATE TABLE campaigns (
    restaurant_id STRING,
    adv_campaign_id STRING,
    adv_campaign_content STRING,
    adv_campaign_owner STRING,
    adv_campaign_owner_contact STRING,
    adv_campaign_datetime_start BIGINT,
    adv_campaign_datetime_end BIGINT,
    datetime_created BIGINT,
    proc_time AS PROCTIME()
) WITH (
    'connector' = 'kafka',
    'topic' = 'campaigns',
    'format' = 'json'
);

CREATE TABLE subscribers_restaurants (
    id INT,
    client_id STRING,
    restaurant_id STRING
) WITH (
    'connector' = 'jdbc',
    'url' = 'jdbc:sqlite:/var/lib/s4/subscribers.db',
    'table-name' = 'subscribers_restaurants',
    'lookup.cache' = 'PARTIAL',
    'lookup.partial-cache.max-rows' = '1000',
    'lookup.partial-cache.expire-after-write' = '1 min'
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
    trigger_datetime_created BIGINT
) WITH (
    'connector' = 'kafka',
    'topic' = 'campaign_notifications',
    'format' = 'json'
);

INSERT INTO campaign_notifications
SELECT c.restaurant_id, c.adv_campaign_id, c.adv_campaign_content, c.adv_campaign_owner,
       c.adv_campaign_owner_contact, c.adv_campaign_datetime_start, c.adv_campaign_datetime_end,
       c.datetime_created, s.client_id, UNIX_TIMESTAMP() AS trigger_datetime_created
FROM campaigns AS c
JOIN subscribers_restaurants FOR SYSTEM_TIME AS OF c.proc_time AS s
  ON s.restaurant_id = c.restaurant_id
WHERE c.adv_campaign_datetime_start <= UNIX_TIMESTAMP()
  AND c.adv_campaign_datetime_end >= UNIX_TIMESTAMP();
