CREATE TABLE t (page STRING, n STRING)
WITH ('connector' = 'redis', 'host' = 'localhost', 'command' = 'ZADD', 'key' = 'top',
      'field.column' = 'page', 'value.column' = 'n');
