CREATE TABLE t (k STRING, n BIGINT)
WITH ('connector' = 'redis', 'host' = 'localhost', 'command' = 'INCR', 'key' = 'counts');
