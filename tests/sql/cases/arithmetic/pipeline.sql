-- Arithmetic: integer '/' truncates toward zero, '%' takes the dividend's
-- sign, division by zero is NULL; INT + DOUBLE is DOUBLE; DOUBLE results are
-- printed in shortest round-trip form (0.1 + 0.2 = 0.30000000000000004,
-- integral values as 8.0); NULL propagates.
CREATE TABLE nums (
    a INT,
    b INT,
    x DOUBLE,
    y DOUBLE
) WITH (
    'connector' = 'kafka',
    'topic' = 'nums',
    'format' = 'json'
);

CREATE TABLE results (
    a INT,
    b INT,
    q INT,
    r INT,
    mixed DOUBLE,
    fsum DOUBLE,
    neg INT,
    fdiv DOUBLE
) WITH (
    'connector' = 'kafka',
    'topic' = 'results',
    'format' = 'json'
);

INSERT INTO results
SELECT a, b, a / b, a % b, a + x, x + y, -a * 3 - b, x / 4
FROM nums;
