CREATE TABLE clicks (page STRING) WITH ('connector' = 'kafka', 'topic' = 'clicks', 'format' = 'json');
CREATE TABLE recent (page STRING)
WITH ('connector' = 'dashboard', 'dashboard.max-rows' = '0');
INSERT INTO recent SELECT page FROM clicks;
