SELECT a + b * c, NOT a = b OR c AND d, x NOT IN (1, 2.5, 'it''s'), s LIKE 'a%' ESCAPE '!',
  y IS NOT NULL, CASE WHEN a > 1 THEN 'x' ELSE 'y' END, CASE k WHEN 1 THEN 2 END,
  CAST(a AS BIGINT), TRY_CAST(b AS DECIMAL(10, 2)), SUBSTRING(s FROM 2 FOR 3),
  POSITION('x' IN s), TRIM(LEADING FROM s), EXTRACT(HOUR FROM ts), FLOOR(ts TO MINUTE),
  INTERVAL '250' MILLISECOND, CURRENT_TIMESTAMP, IF(a > 1, LEFT(s, 2), RIGHT(s, 1)),
  -9223372036854775808, .5e-3, `quoted``name`, "dq", t.a.b /* comment */ -- end
FROM t;
