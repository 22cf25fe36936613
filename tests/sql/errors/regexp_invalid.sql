-- Error case: REGEXP_EXTRACT's regular expression is checked before the run.
CREATE TABLE urls (url STRING) WITH ('connector' = 'kafka', 'topic' = 'urls', 'format' = 'json');
CREATE TABLE ids (id STRING) WITH ('connector' = 'print');

INSERT INTO ids
SELECT REGEXP_EXTRACT(url, 'channel_id=([^&]*', 1)
FROM urls;
