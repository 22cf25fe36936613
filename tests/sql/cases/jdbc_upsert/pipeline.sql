-- A 'jdbc' table with a PRIMARY KEY is an upsert sink (docs/jdbc.md): in
-- `runnel test` it writes {"key": K, "value": V} lines to
-- <table-name>.jsonl, V null for a delete, as 'upsert-kafka' does. The
-- input is one batch: account 1 is updated, account 3 deleted, so the
-- sinks write the last change per key in the order keys first appear
-- (owner 'cy' gains and loses its only account within the batch, so the
-- aggregate emits nothing for it).
CREATE TABLE accounts (
    id INT,
    owner STRING,
    balance BIGINT,
    PRIMARY KEY (id) NOT ENFORCED
) WITH (
    'connector' = 'upsert-kafka',
    'topic' = 'accounts',
    'key.format' = 'json',
    'value.format' = 'json'
);

CREATE TABLE account_copy (
    id INT,
    owner STRING,
    balance BIGINT,
    PRIMARY KEY (id) NOT ENFORCED
) WITH (
    'connector' = 'jdbc',
    'url' = 'jdbc:sqlite:bank.db',
    'table-name' = 'account_copy'
);

CREATE TABLE owner_totals (
    owner STRING,
    accounts BIGINT,
    total BIGINT,
    PRIMARY KEY (owner) NOT ENFORCED
) WITH (
    'connector' = 'jdbc',
    'url' = 'jdbc:sqlite:bank.db',
    'table-name' = 'owner_totals'
);

INSERT INTO account_copy SELECT id, owner, balance FROM accounts;

INSERT INTO owner_totals
SELECT owner, COUNT(*) AS accounts, SUM(balance) AS total FROM accounts GROUP BY owner;
