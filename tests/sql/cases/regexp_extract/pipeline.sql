-- REGEXP_EXTRACT (Nexmark q21): a POSIX extended regular expression, the
-- first match; group 2, the whole match by default (group 0), NULL without
-- a match, for a group that did not take part (group 1 is '^' in the
-- second row: empty, not NULL) or that the expression does not have.
CREATE TABLE urls (url STRING) WITH ('connector' = 'kafka', 'topic' = 'urls', 'format' = 'json');

CREATE TABLE ids (id STRING, whole STRING, sep STRING, nogroup STRING, host STRING)
  WITH ('connector' = 'kafka', 'topic' = 'ids', 'format' = 'json');

INSERT INTO ids
SELECT REGEXP_EXTRACT(url, '(&|^)channel_id=([^&]*)', 2),
       REGEXP_EXTRACT(url, 'channel_id=[0-9]+'),
       regexp_extract(url, '(&|^)channel_id', 1),
       REGEXP_EXTRACT(url, '(&|^)channel_id', 3),
       REGEXP_EXTRACT(url, '^https://([^/]+)/', 1)
FROM urls;
