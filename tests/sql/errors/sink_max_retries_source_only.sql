-- 'sink.max-retries' is refused by a connector that cannot be a sink
CREATE TABLE events (user_id BIGINT) WITH ('connector' = 'datagen', 'scenario' = 's2', 'sink.max-retries' = '3');
