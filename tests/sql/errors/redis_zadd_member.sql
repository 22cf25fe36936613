CREATE TABLE t (page STRING, n BIGINT)
WITH ('connector' = 'redis', 'host' = 'localhost', 'command' = 'ZADD', 'key' = 'top', 'value.column' = 'n');
