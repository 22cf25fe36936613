-- CAST between STRING, INT, BIGINT and DOUBLE. DOUBLE -> INT truncates
-- toward zero; a STRING that is not a number casts to NULL (not an error).
CREATE TABLE raw (
    si STRING,
    sd STRING,
    i INT,
    d DOUBLE
) WITH (
    'connector' = 'kafka',
    'topic' = 'raw',
    'format' = 'json'
);

CREATE TABLE casted (
    s_int INT,
    s_double DOUBLE,
    i_str STRING,
    i_double DOUBLE,
    d_int INT,
    d_bigint BIGINT,
    sum_str STRING
) WITH (
    'connector' = 'kafka',
    'topic' = 'casted',
    'format' = 'json'
);

INSERT INTO casted
SELECT CAST(si AS INT), CAST(sd AS DOUBLE), CAST(i AS STRING), CAST(i AS DOUBLE),
       CAST(d AS INT), CAST(d AS BIGINT), CAST(CAST(si AS INT) + 1 AS STRING)
FROM raw;
