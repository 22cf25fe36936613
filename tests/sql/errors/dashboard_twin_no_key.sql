CREATE TABLE clicks (page STRING) WITH ('connector' = 'kafka', 'topic' = 'clicks', 'format' = 'json');
CREATE TABLE out_t (page STRING, views BIGINT) WITH ('connector' = 'print', 'dashboard' = 'true');
INSERT INTO out_t SELECT page, COUNT(*) FROM clicks GROUP BY page;
