#!/usr/bin/env python3
"""The 'redis' sink against the real Redis server of the `redis` fixture
(scripts/redis): S2's views per page (ZADD) and per user (HSET, with a TTL)
from `runnel run` over a file of `runnel gen s2` events, written as the
ACL user runnel with its password from the environment. The sorted set and
the hash must equal a batch computation in Python; a second run over the
same input leaves them equal (absolute writes: a replay does not double).
Reads back with redis-cli."""
import collections
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "services"))
import common  # noqa: E402
from common import check, log  # noqa: E402

RUNNEL = os.path.join(common.ROOT, "build", "runnel")

PIPELINE = """
CREATE TABLE activity (user_id BIGINT, action STRING, page STRING, `timestamp` STRING)
WITH ('connector' = 'filesystem', 'path' = '{input}', 'format' = 'json');
CREATE TABLE top_pages (page STRING, views BIGINT)
WITH ('connector' = 'redis', 'host' = '{host}', 'port' = '{port}', 'username' = 'runnel',
      'password' = '${{REDIS_TEST_PASSWORD}}', 'command' = 'ZADD', 'key' = '{prefix}:top_pages',
      'field.column' = 'page', 'value.column' = 'views');
CREATE TABLE user_views (user_id BIGINT, views BIGINT)
WITH ('connector' = 'redis', 'host' = '{host}', 'port' = '{port}', 'username' = 'runnel',
      'password' = '${{REDIS_TEST_PASSWORD}}', 'command' = 'HSET', 'key' = '{prefix}:user_views_1h',
      'field.column' = 'user_id', 'value.column' = 'views', 'ttl' = '1 h');
INSERT INTO top_pages SELECT page, COUNT(*) FROM activity WHERE action = 'view' GROUP BY page;
INSERT INTO user_views SELECT user_id, COUNT(*) FROM activity WHERE action = 'view' GROUP BY user_id;
"""


def cli(env, *args):
    p = subprocess.run(["redis-cli", "-h", env["REDIS_HOST"], "-p", env["REDIS_PORT"], "--user",
                        env["REDIS_USER"], "--pass", env["REDIS_PASSWORD"], "--no-auth-warning"] + list(args),
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "redis-cli %s: %s" % (args, p.stderr))
    return p.stdout.splitlines()


def main():
    env = common.service_env("redis")
    work = tempfile.mkdtemp(prefix="runnel-redis-sink-")
    subprocess.run([RUNNEL, "gen", "s2", "--count", "20000", "--seed", "5", "--out", work], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    events = os.path.join(work, "user-activity.jsonl")
    views, per_user = collections.Counter(), collections.Counter()
    with open(events) as f:
        for line in f:
            e = json.loads(line)
            if e["action"] == "view":
                views[e["page"]] += 1
                per_user[str(e["user_id"])] += 1
    prefix = "rt%d" % os.getpid()
    sql = os.path.join(work, "s2_redis.sql")
    with open(sql, "w") as f:
        f.write(PIPELINE.format(input=events, host=env["REDIS_HOST"], port=env["REDIS_PORT"], prefix=prefix))
    run_env = dict(os.environ, REDIS_TEST_PASSWORD=env["REDIS_PASSWORD"])
    for run in (1, 2):
        p = subprocess.run([RUNNEL, "run", sql], capture_output=True, text=True, env=run_env, timeout=120)
        check(p.returncode == 0, "runnel run %d exited %d: %s" % (run, p.returncode, p.stderr[-2000:]))
        z = cli(env, "ZRANGE", prefix + ":top_pages", "0", "-1", "WITHSCORES")
        got = {z[i]: int(float(z[i + 1])) for i in range(0, len(z), 2)}
        check(got == dict(views), "run %d: top_pages differs: %d pages, want %d; e.g. %s" % (
            run, len(got), len(views), [(k, got.get(k), views[k]) for k in list(views)[:3]]))
        h = cli(env, "HGETALL", prefix + ":user_views_1h")
        got = {h[i]: int(h[i + 1]) for i in range(0, len(h), 2)}
        check(got == dict(per_user), "run %d: user_views_1h differs: %d users, want %d" % (
            run, len(got), len(per_user)))
        ttl = int(cli(env, "TTL", prefix + ":user_views_1h")[0])
        check(0 < ttl <= 3600, "user_views_1h has TTL %d, want 1..3600" % ttl)
        log("run %d: %d pages and %d users equal the batch computation" % (run, len(views), len(per_user)))
    cli(env, "DEL", prefix + ":top_pages", prefix + ":user_views_1h")


if __name__ == "__main__":
    common.run_main(main)
