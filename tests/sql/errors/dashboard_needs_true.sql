CREATE TABLE clicks (page STRING) WITH ('connector' = 'kafka', 'topic' = 'clicks', 'format' = 'json');
CREATE TABLE out_t (page STRING) WITH ('connector' = 'print', 'dashboard.max-rows' = '5');
INSERT INTO out_t SELECT page FROM clicks;
