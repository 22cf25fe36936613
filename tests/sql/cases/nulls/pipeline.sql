-- NULLs and missing fields in aggregates, composite primary key:
-- COUNT(*) counts rows, COUNT(x) and COUNT(DISTINCT x) skip NULL, SUM/MIN/
-- MAX/AVG ignore NULL and are NULL when every input is NULL. `value` is a
-- reserved word, quoted with backticks.
CREATE TABLE readings (
    site STRING,
    sensor STRING,
    `value` INT,
    score DOUBLE
) WITH (
    'connector' = 'kafka',
    'topic' = 'readings',
    'format' = 'json'
);

CREATE TABLE sensor_stats (
    site STRING,
    sensor STRING,
    n_all BIGINT,
    n_value BIGINT,
    n_distinct BIGINT,
    sum_value BIGINT,
    min_value INT,
    max_score DOUBLE,
    avg_score DOUBLE,
    PRIMARY KEY (site, sensor) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = 'sensor-stats',
    'key.format' = 'json',
    'value.format' = 'json'
);

INSERT INTO sensor_stats
SELECT site, sensor, COUNT(*), COUNT(`value`), COUNT(DISTINCT `value`), SUM(`value`),
       MIN(`value`), MAX(score), AVG(score)
FROM readings
WHERE sensor IS NOT NULL AND site IS NOT NULL
GROUP BY site, sensor;
