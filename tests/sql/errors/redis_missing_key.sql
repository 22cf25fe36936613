CREATE TABLE t (user_id BIGINT, n BIGINT)
WITH ('connector' = 'redis', 'host' = 'localhost', 'command' = 'SET', 'value.column' = 'n');
