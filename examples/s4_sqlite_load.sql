-- Loads the subscribers that `runnel gen s4` writes into the SQLite
-- database of examples/s4_campaigns_sqlite.sql (an upsert by id, so
-- loading twice changes nothing):
--
--   runnel gen s4 --out data/
--   sqlite3 s4.db < examples/s4_sqlite_schema.sql
--   runnel run examples/s4_sqlite_load.sql
--
-- S4_DATA (default data) names the directory, S4_DB (default s4.db) the
-- database file.
CREATE TABLE subscribers_file (
  id INT,
  client_id STRING,
  restaurant_id STRING
) WITH (
  'connector' = 'filesystem',
  'path' = '${S4_DATA:-data}/subscribers_restaurants.jsonl',
  'format' = 'json'
);

CREATE TABLE subscribers_restaurants (
  id INT,
  client_id STRING,
  restaurant_id STRING,
  PRIMARY KEY (id) NOT ENFORCED
) WITH (
  'connector' = 'jdbc',
  'url' = 'jdbc:sqlite:${S4_DB:-s4.db}',
  'table-name' = 'subscribers_restaurants'
);

INSERT INTO subscribers_restaurants SELECT * FROM subscribers_file;
