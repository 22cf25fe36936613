SET 'pipeline.name' = 'demo';
SET table.exec.mini-batch.enabled = true;
CREATE VIEW IF NOT EXISTS v (a, b) AS SELECT x, y FROM t;
EXECUTE STATEMENT SET BEGIN
  INSERT INTO a SELECT * FROM v;
  INSERT OVERWRITE b (a, b) SELECT a, b FROM v;
END;
BEGIN STATEMENT SET;
INSERT INTO c (SELECT * FROM v);
END;
