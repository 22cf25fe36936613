-- The tables of S4 (../shared/SCENARIOS.md) in SQLite, for
-- examples/s4_campaigns_sqlite.sql:
--
--   sqlite3 s4.db < examples/s4_sqlite_schema.sql
--   (or: python3 -c "import sqlite3; sqlite3.connect('s4.db').executescript(open('examples/s4_sqlite_schema.sql').read())")
CREATE TABLE IF NOT EXISTS subscribers_restaurants (
  id INTEGER PRIMARY KEY,
  client_id TEXT NOT NULL,
  restaurant_id TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS subscribers_feedback (
  id INTEGER PRIMARY KEY,
  restaurant_id TEXT,
  adv_campaign_id TEXT,
  adv_campaign_content TEXT,
  adv_campaign_owner TEXT,
  adv_campaign_owner_contact TEXT,
  adv_campaign_datetime_start INTEGER,
  adv_campaign_datetime_end INTEGER,
  datetime_created INTEGER,
  client_id TEXT,
  trigger_datetime_created INTEGER,
  feedback TEXT NULL,
  UNIQUE (adv_campaign_id, client_id)
);
