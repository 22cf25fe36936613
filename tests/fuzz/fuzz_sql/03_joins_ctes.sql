WITH a AS (SELECT x, y FROM t WHERE x BETWEEN 1 AND 10), b AS (SELECT * FROM a)
SELECT e.*, u.name AS n, r.rate FROM b AS e LEFT OUTER JOIN users u ON e.uid = u.id
JOIN rates FOR SYSTEM_TIME AS OF e.ts AS r ON e.cur = r.cur, q CROSS JOIN z
UNION ALL SELECT 1, 2, 3 FROM dual ORDER BY 1 DESC LIMIT 10;
