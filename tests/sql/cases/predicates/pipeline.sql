-- IN / NOT IN, BETWEEN (inclusive), LIKE / NOT LIKE ('%', '_', case-sensitive),
-- IS [NOT] NULL, and BOOLEAN results written as true/false.
CREATE TABLE requests (
    url STRING,
    code INT,
    ms DOUBLE
) WITH (
    'connector' = 'kafka',
    'topic' = 'requests',
    'format' = 'json'
);

CREATE TABLE matched (
    url STRING,
    code INT,
    slow BOOLEAN,
    is_api BOOLEAN,
    no_code BOOLEAN
) WITH (
    'connector' = 'kafka',
    'topic' = 'matched',
    'format' = 'json'
);

INSERT INTO matched
SELECT url, code, ms BETWEEN 100 AND 500, url LIKE '/api/%', code IS NULL
FROM requests
WHERE (code IN (200, 201, 404) OR code IS NULL)
  AND url NOT LIKE '%.png'
  AND url NOT IN ('/health', '/api/secret')
  AND ms IS NOT NULL
  AND url LIKE '/_%';
