-- 'sink.max-retries' (every sink's option, read by the sink operator) must be an integer >= -1
CREATE TABLE top_pages (page STRING, views BIGINT)
WITH ('connector' = 'redis', 'url' = 'redis://localhost:6379/0', 'command' = 'ZADD', 'key' = 'top_pages',
      'field.column' = 'page', 'value.column' = 'views', 'sink.max-retries' = '-2');
