-- Strings compare bytewise (UTF-8 bytes: 'B' < 'a' < 'z' < 'É' < 'Я' < 'а'),
-- in WHERE and in MIN/MAX; CHAR_LENGTH counts characters, not bytes;
-- non-ASCII text is written as UTF-8.
CREATE TABLE words (
    grp STRING,
    w STRING
) WITH (
    'connector' = 'kafka',
    'topic' = 'words',
    'format' = 'json'
);

CREATE TABLE word_stats (
    grp STRING,
    first_word STRING,
    last_word STRING,
    total_chars BIGINT,
    n BIGINT,
    PRIMARY KEY (grp) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = 'word-stats',
    'key.format' = 'json',
    'value.format' = 'json'
);

INSERT INTO word_stats
SELECT grp, MIN(w), MAX(w), SUM(CHAR_LENGTH(w)), COUNT(*)
FROM words
WHERE w >= 'B'
GROUP BY grp;
