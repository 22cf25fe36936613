-- Two lookup joins in a row (the second on the view of the first), an INT
-- column looked up by a BIGINT key, a condition on the table's column in
-- ON of a LEFT join, and a GROUP BY after the joins (its Exchange is the
-- only one: lookup joins need none). Owner 6 has no row, owner 7's name
-- is refused by the ON condition: both NULL-padded.
CREATE TABLE campaigns (restaurant_id STRING, owner_id BIGINT, proc_time AS PROCTIME()) WITH ('connector'='kafka','topic'='campaigns');
CREATE TABLE subs (client_id STRING, restaurant_id STRING) WITH ('connector'='jdbc','url'='jdbc:sqlite:x.db','table-name'='subs');
CREATE TABLE owners (id INT, name STRING) WITH ('connector'='jdbc','url'='jdbc:sqlite:x.db','table-name'='owners','lookup.cache'='PARTIAL','lookup.partial-cache.cache-missing-key'='false');
CREATE TABLE outp (client_id STRING, name STRING, n BIGINT, PRIMARY KEY (client_id, name) NOT ENFORCED) WITH ('connector'='upsert-kafka','topic'='outp','key.format'='json','value.format'='json');
CREATE VIEW v AS SELECT c.*, s.client_id FROM campaigns AS c JOIN subs FOR SYSTEM_TIME AS OF c.proc_time AS s ON s.restaurant_id = c.restaurant_id;
INSERT INTO outp SELECT v.client_id, o.name, COUNT(*) FROM v LEFT JOIN owners FOR SYSTEM_TIME AS OF v.proc_time AS o ON o.id = v.owner_id AND o.name <> 'x' GROUP BY v.client_id, o.name;
