# tests/tests.cmake - everything beyond the unit tests, included by the root
# CMakeLists.txt. Labels (run one group with `ctest -L <label>`):
#   sql.golden  one test per tests/sql/cases/<name>/: hand-computed outputs
#   sql.errors  one test per tests/sql/errors/<name>.sql: rejected pipelines
#   oracle      random queries checked against a Python batch computation
#               (and the oracle's own self-test against SQLite); the Nexmark
#               queries of bench/nexmark against tests/nexmark/oracle.py
#   window      event time: window aggregates and late rows over out-of-order
#               events checked against a Python batch computation (and the
#               oracle's self-test)
#   cli         runnel gen determinism, runnel explain, several pipelines in one
#               run and table overrides
#   demo        runnel demo: the five examples on the embedded broker
#   scenario    the S1, S2, S3 and S5 example pipelines and S4's lookup join against a batch oracle
#   http        the dashboard's HTTP server, JSON API, server-sent events and
#               /metrics (`runnel run --http`; no services)
#   sqlite      the 'jdbc' sink writing real SQLite databases (`runnel run`)
#   kafka       against a real Apache Kafka 3-broker cluster (KRaft) that the
#               fixture starts with scripts/kafka and stops at the end; needs
#               Java and fetches Kafka's jars from Maven Central once
#   redis       against a real Redis server (scripts/redis; installs the
#               Debian package redis-server if missing)
#   postgres    against a real PostgreSQL server (scripts/postgres; installs
#               the Debian package postgresql if missing)
#   web         the dashboard page: the embedded copy of web/dist/, and the
#               page in headless Chromium (scripts/web-test-deps installs the
#               Debian package chromium and playwright-core from npm if missing)
# Only kafka, redis and postgres need external services; they start them themselves.
find_package(Python3 COMPONENTS Interpreter REQUIRED)

set(RUNNEL_BIN ${CMAKE_BINARY_DIR}/runnel)
set(RUNNEL_TESTS ${CMAKE_SOURCE_DIR}/tests)
set(RUNNEL_PYENV "PYTHONDONTWRITEBYTECODE=1")

# ---- SQL golden cases ----------------------------------------------------
file(GLOB RUNNEL_GOLDEN_CASES CONFIGURE_DEPENDS ${RUNNEL_TESTS}/sql/cases/*/pipeline.sql)
foreach(sql ${RUNNEL_GOLDEN_CASES})
  get_filename_component(dir ${sql} DIRECTORY)
  get_filename_component(name ${dir} NAME)
  add_test(NAME sql.golden.${name}
           COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/sql/run_golden.py ${dir} ${RUNNEL_BIN})
  set_tests_properties(sql.golden.${name} PROPERTIES
                       LABELS "sql.golden" TIMEOUT 120 ENVIRONMENT "${RUNNEL_PYENV}")
endforeach()

# ---- SQL error cases -----------------------------------------------------
file(GLOB RUNNEL_ERROR_CASES CONFIGURE_DEPENDS ${RUNNEL_TESTS}/sql/errors/*.sql)
foreach(sql ${RUNNEL_ERROR_CASES})
  get_filename_component(name ${sql} NAME_WE)
  add_test(NAME sql.errors.${name}
           COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/sql/run_golden.py --errors ${sql}
                   ${RUNNEL_BIN})
  set_tests_properties(sql.errors.${name} PROPERTIES
                       LABELS "sql.errors" TIMEOUT 60 ENVIRONMENT "${RUNNEL_PYENV}")
endforeach()

# ---- oracle ----------------------------------------------------------------
add_test(NAME oracle.selftest
         COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/oracle/run_oracle.py --self-test
                 --seed 7 --queries 150)
set_tests_properties(oracle.selftest PROPERTIES
                     LABELS "oracle" TIMEOUT 120 ENVIRONMENT "${RUNNEL_PYENV}")
# runnel decodes only the columns a pipeline reads (projection pushdown, as
# Flink's JSON format does), so a bad value in a column no query reads does
# not make the record undecodable: --dlq-unread-ok tells the oracle so.
foreach(seed 1 2 3)
  add_test(NAME oracle.seed${seed}
           COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/oracle/run_oracle.py ${RUNNEL_BIN}
                   --seed ${seed} --queries 25 --count 3000 --dlq-unread-ok)
  set_tests_properties(oracle.seed${seed} PROPERTIES
                       LABELS "oracle" TIMEOUT 300 ENVIRONMENT "${RUNNEL_PYENV}")
endforeach()

# Nexmark (bench/nexmark/qN.sql, the queries as nexmark-flink writes them)
# over `runnel gen nexmark` data, checked against tests/nexmark/oracle.py:
# a slow event rate (long event time: many windows) across midnight (two
# days for q15), and the default rate.
add_test(NAME oracle.nexmark.seed1
         COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/nexmark/run_nexmark.py ${RUNNEL_BIN}
                 --seed 1 --count 50000 --event-rate 1000 --start 2024-05-01T23:59:35Z)
add_test(NAME oracle.nexmark.seed2
         COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/nexmark/run_nexmark.py ${RUNNEL_BIN}
                 --seed 2 --count 200000 --event-rate 10000)
set_tests_properties(oracle.nexmark.seed1 oracle.nexmark.seed2 PROPERTIES
                     LABELS "oracle" TIMEOUT 600 ENVIRONMENT "${RUNNEL_PYENV}")

# ---- event time and windows ------------------------------------------------
# tests/window/README.md: TUMBLE/HOP/SESSION aggregates, late rows (routed to
# late-rows tables) and NULL rowtimes (dead letters) over generated
# out-of-order events, compared with a batch computation of
# docs/event-time.md; each seed also runs its pipelines twice and requires
# byte-identical output. About 5 s per seed.
add_test(NAME window.oracle.selftest
         COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/window/run_window_oracle.py --self-test)
set_tests_properties(window.oracle.selftest PROPERTIES
                     LABELS "window" TIMEOUT 120 ENVIRONMENT "${RUNNEL_PYENV}")
foreach(seed 1 2 3)
  add_test(NAME window.oracle.seed${seed}
           COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/window/run_window_oracle.py ${RUNNEL_BIN}
                   --seed ${seed})
  set_tests_properties(window.oracle.seed${seed} PROPERTIES
                       LABELS "window" TIMEOUT 300 ENVIRONMENT "${RUNNEL_PYENV}")
endforeach()

# ---- command line ----------------------------------------------------------
# runnel gen: the same seed gives the same bytes, a different seed different
# ones; every line is a JSON object; --count is honoured for the main topic.
foreach(scen s1 s2 s3 s4 s5)
  add_test(NAME cli.gen_deterministic.${scen}
           COMMAND sh -c "set -e
d=$(mktemp -d)
trap 'rm -rf \"$d\"' EXIT
\"$0\" gen ${scen} --count 500 --seed 42 --out \"$d/a\"
\"$0\" gen ${scen} --count 500 --seed 42 --out \"$d/b\"
\"$0\" gen ${scen} --count 500 --seed 43 --out \"$d/c\"
ls \"$d/a\"/*.jsonl >/dev/null
diff -r \"$d/a\" \"$d/b\" || { echo 'FAIL: same seed, different output'; exit 1; }
if diff -r -q \"$d/a\" \"$d/c\" >/dev/null; then echo 'FAIL: seeds 42 and 43 gave identical output'; exit 1; fi
\"$1\" -c 'import json, sys
for f in sys.argv[1:]:
    n = 0
    for i, l in enumerate(open(f, encoding=\"utf-8\"), 1):
        assert isinstance(json.loads(l), dict), \"%s:%d: not a JSON object\" % (f, i)
        n += 1
    assert n > 0, f + \": empty\"
    print(f, n, \"lines\")' \"$d/a\"/*.jsonl
echo ok"
                   ${RUNNEL_BIN} ${Python3_EXECUTABLE})
  set_tests_properties(cli.gen_deterministic.${scen} PROPERTIES LABELS "cli" TIMEOUT 60)
endforeach()

# runnel explain prints the plan of the page_views example: its source, the
# filter, the aggregation and the sink must all be named.
add_test(NAME cli.explain_page_views
         COMMAND sh -c "set -e
out=$(\"$0\" explain \"$1\") || { echo \"FAIL: runnel explain exited $?\"; exit 1; }
printf '%s\\n' \"$out\"
for w in 'user.events' 'filter|where' 'agg' 'page.views'; do
  printf '%s\\n' \"$out\" | grep -Eqi \"$w\" || { echo \"FAIL: explain output does not mention /$w/\"; exit 1; }
done
echo ok"
                 ${RUNNEL_BIN} ${CMAKE_SOURCE_DIR}/examples/page_views.sql)
set_tests_properties(cli.explain_page_views PROPERTIES LABELS "cli" TIMEOUT 30)

# The join scenarios' plans: the operators each must compile to (an
# interval join for S1's timer; dedup, a regular join and repartitioned
# sides for S3; S5's nearest-purchase Top-1 on event time and the window
# join that frees a session's rows once the watermark passes it).
foreach(case "s1_logins|IntervalJoin: LEFT \\[user_id = user_id\\], timestamp BETWEEN timestamp \\+ 1 ms AND timestamp \\+ 10 min|where user_id IS NULL"
             "s3_corp|Rank: partition by \\[user_id\\], order by \\[arrival DESC\\]|Join: INNER \\[user_id = user_id\\]"
             "s5_sessions|complete when the watermark passes ts|drops windows \\[window_end, window_end\\] at the watermark|WindowRows: SESSION")
  string(REPLACE "|" ";" parts "${case}")
  list(GET parts 0 name)
  list(REMOVE_AT parts 0)
  add_test(NAME cli.explain_${name}
           COMMAND ${Python3_EXECUTABLE} -c "
import re, subprocess, sys
out = subprocess.run([sys.argv[1], 'explain', sys.argv[2]], capture_output=True, text=True)
if out.returncode: sys.exit('FAIL: runnel explain exited %d: %s' % (out.returncode, out.stderr))
missing = [w for w in sys.argv[3:] if not re.search(w, out.stdout)]
if missing: sys.exit('FAIL: explain output has no %s:\\n%s' % (missing, out.stdout))
print('ok')" ${RUNNEL_BIN} ${CMAKE_SOURCE_DIR}/examples/${name}.sql ${parts})
  set_tests_properties(cli.explain_${name} PROPERTIES LABELS "cli" TIMEOUT 30)
endforeach()

# Nexmark q7: `JOIN ... ON B.price = B1.maxprice WHERE B.dateTime BETWEEN
# B1.dateTime - INTERVAL '10' SECOND AND B1.dateTime`, B1.dateTime a
# window's window_end, is an interval join (the WHERE's time bounds go into
# the inner join; window_end counts as an event-time attribute), which
# keeps 10 s of bids where a regular join keeps them all.
add_test(NAME cli.explain_nexmark_q7
         COMMAND ${Python3_EXECUTABLE} -c "
import re, subprocess, sys
out = subprocess.run([sys.argv[1], 'explain', sys.argv[2]], capture_output=True, text=True)
if out.returncode: sys.exit('FAIL: runnel explain exited %d: %s' % (out.returncode, out.stderr))
want = r'IntervalJoin: INNER \\[price = maxprice\\], dateTime BETWEEN dateTime AND dateTime \\+ 10 s'
if not re.search(want, out.stdout) or re.search(r'\\bJoin: INNER|where dateTime BETWEEN', out.stdout):
    sys.exit('FAIL: q7 is not one interval join:\\n%s' % out.stdout)
print('ok')" ${RUNNEL_BIN} ${CMAKE_SOURCE_DIR}/bench/nexmark/q7.sql)
set_tests_properties(cli.explain_nexmark_q7 PROPERTIES LABELS "cli" TIMEOUT 30)

# Window aggregates pre-aggregated before their repartition topic, per
# 'table.optimizer.agg-phase-strategy' (tests/cli/test_agg_phase.py).
add_test(NAME cli.agg_phase
         COMMAND ${Python3_EXECUTABLE} ${CMAKE_SOURCE_DIR}/tests/cli/test_agg_phase.py ${RUNNEL_BIN})
set_tests_properties(cli.agg_phase PROPERTIES LABELS "cli" TIMEOUT 30)

# Hardening regressions (tests/cli/test_hardening.py): a run that would
# destroy its input, sinks sharing a file, topic names that escape the
# output directory, --now parsing, dead letters that keep their bytes,
# over-long lines, secrets in diagnostics, workers over tables that cannot
# be split, exactly-once into a database without checkpoints or a Kafka source.
foreach(name same_path_source_and_sink test_mode_same_dir_same_topic no_truncate_before_start
             two_sinks_one_topic sink_on_topic_dlq topic_names now_strict dlq_keeps_bytes long_line
             secrets_masked unknown_set_keys peak_memory_is_rss max_memory stdin_stop
             workers_need_shared_tables exactly_once_db_refused)
  add_test(NAME cli.hardening.${name}
           COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/cli/test_hardening.py ${RUNNEL_BIN} ${name})
  set_tests_properties(cli.hardening.${name} PROPERTIES LABELS "cli" TIMEOUT 120
                       ENVIRONMENT "${RUNNEL_PYENV}")
endforeach()

# Several pipelines in one process and table overrides
# (tests/cli/test_run_many.py): two pipelines' outputs, --set/--connector
# and their mistakes, a failure that stops all, Ctrl-C that stops all.
foreach(name two_pipelines overrides same_name_refused failure_stops_all sigint_stops_all)
  add_test(NAME cli.run_many.${name}
           COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/cli/test_run_many.py ${RUNNEL_BIN} ${name})
  set_tests_properties(cli.run_many.${name} PROPERTIES LABELS "cli" TIMEOUT 120
                       ENVIRONMENT "${RUNNEL_PYENV}")
endforeach()

# `runnel demo` with no services (tests/cli/test_demo.py, label demo): a
# 40 s run (S5 needs sessions to close) in which every example pipeline reads
# and writes its main sink,
# with a clean log and nothing left behind, and a Ctrl-C that stops it
# cleanly within 3 s.
foreach(name run sigint)
  add_test(NAME demo.${name}
           COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/cli/test_demo.py ${RUNNEL_BIN} ${name})
  set_tests_properties(demo.${name} PROPERTIES LABELS "demo" TIMEOUT 120 ENVIRONMENT "${RUNNEL_PYENV}")
endforeach()

# ---- jdbc sink on SQLite -----------------------------------------------------
# tests/jdbc/test_sqlite.py: `runnel run` from a file into SQLite tables,
# compared with an oracle (append, upsert with deletes, a replay that
# leaves the upsert tables unchanged, SQL-looking data stored verbatim),
# the checks at open (missing table, column, key index, file), refused
# rows going to the dead-letter file, the table as a bounded source, and a
# lookup join with a 10,000-row fan-out and a missing key under every
# cache setting. The lookup and scan (rn_lookup_t) are unit.test_jdbc.
foreach(name oracle_and_replay open_errors option_injection refused_rows scan_source lookup_fanout)
  add_test(NAME jdbc.sqlite.${name}
           COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/jdbc/test_sqlite.py ${RUNNEL_BIN} ${name})
  set_tests_properties(jdbc.sqlite.${name} PROPERTIES LABELS "sqlite" TIMEOUT 120
                       ENVIRONMENT "${RUNNEL_PYENV}")
endforeach()

# ---- scenarios ---------------------------------------------------------------
# The scenarios (examples/s1_logins.sql, s2_activity.sql, s3_corp.sql, s4_campaigns.sql,
# s5_sessions.sql) over generated data with malformed records, on files, checked against the
# batch oracle of tests/scenarios/oracle.py; several seeds each.
foreach(scen s1 s2 s3 s4 s5)
  foreach(seed 1 2 3)
    add_test(NAME scenario.${scen}.seed${seed}
             COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/scenarios/run_scenario.py ${scen} ${RUNNEL_BIN}
                     --seed ${seed} --count 20000)
    set_tests_properties(scenario.${scen}.seed${seed} PROPERTIES LABELS "scenario" TIMEOUT 300
                         ENVIRONMENT "${RUNNEL_PYENV}")
  endforeach()
endforeach()

# S4's lookup join (tests/sql/cases/lookup_s4) over generated campaigns and
# subscribers, once per 'lookup.cache' setting, against a batch oracle.
foreach(seed 1 2)
  add_test(NAME scenario.lookup_s4.seed${seed}
           COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/scenarios/lookup_s4.py ${RUNNEL_BIN} --seed ${seed})
  set_tests_properties(scenario.lookup_s4.seed${seed} PROPERTIES LABELS "scenario" TIMEOUT 300
                       ENVIRONMENT "${RUNNEL_PYENV}")
endforeach()

# ---- real Apache Kafka -----------------------------------------------------
# One 3-broker cluster (with a SASL_SSL listener) for all Kafka tests: the
# fixture starts it before the first and stops it after the last. The tests
# share it, so they hold one resource lock and run one at a time.
add_test(NAME kafka.cluster.start
         COMMAND sh -c "\"$0\"/scripts/pyenv && \"$0\"/scripts/kafka start --brokers 3 --sasl"
                 ${CMAKE_SOURCE_DIR})
add_test(NAME kafka.cluster.stop COMMAND ${CMAKE_SOURCE_DIR}/scripts/kafka stop)
set_tests_properties(kafka.cluster.start PROPERTIES FIXTURES_SETUP kafka_cluster LABELS "kafka"
                     TIMEOUT 600 RESOURCE_LOCK kafka_cluster)
set_tests_properties(kafka.cluster.stop PROPERTIES FIXTURES_CLEANUP kafka_cluster LABELS "kafka"
                     TIMEOUT 120 RESOURCE_LOCK kafka_cluster)
foreach(name s5_oracle group broker_restart dlq sasl errors idle_partitions quiet_topic window_restart
             source_deleted restart_after_kill resume_warning scaleout takeover_startup upsert_source
             joins nexmark_kafka watermark_alignment idle_lag)
  add_test(NAME kafka.${name}
           COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/kafka/test_${name}.py)
  set_tests_properties(kafka.${name} PROPERTIES LABELS "kafka" TIMEOUT 600
                       FIXTURES_REQUIRED kafka_cluster RESOURCE_LOCK kafka_cluster
                       ENVIRONMENT "${RUNNEL_PYENV}")
endforeach()

# Checkpoints and exactly-once: pipelines SIGKILLed 20 times each (docs/checkpoints.md).
add_test(NAME kafka.checkpoints COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/kafka/test_checkpoints.py)
set_tests_properties(kafka.checkpoints PROPERTIES LABELS "kafka" TIMEOUT 1800
                     FIXTURES_REQUIRED kafka_cluster RESOURCE_LOCK kafka_cluster
                     ENVIRONMENT "${RUNNEL_PYENV}")

# ---- real Redis and PostgreSQL ------------------------------------------------
# One server each for the tests of its label: the fixture starts it before the
# first and stops it after the last; the tests share it, one at a time. Each
# build directory gets its own state dir and a free port picked at start, so
# suites of several checkouts on one machine do not stop each other's servers
# (and a server started by hand on the default port is left alone). Tests read
# the address and credentials from `scripts/redis env` / `scripts/postgres env`
# under RUNNEL_REDIS_ENV / RUNNEL_POSTGRES_ENV.
string(MD5 RUNNEL_BUILD_ID "${CMAKE_BINARY_DIR}")
string(SUBSTRING "${RUNNEL_BUILD_ID}" 0 10 RUNNEL_BUILD_ID)
set(RUNNEL_REDIS_ENV "RUNNEL_REDIS_DIR=/tmp/runnel-redis-ctest-${RUNNEL_BUILD_ID}"
                     "RUNNEL_REDIS_PORT=auto")
set(RUNNEL_POSTGRES_ENV "RUNNEL_POSTGRES_DIR=/tmp/runnel-postgres-ctest-${RUNNEL_BUILD_ID}"
                        "RUNNEL_POSTGRES_PORT=auto")
foreach(svc redis postgres)
  string(TOUPPER ${svc} SVC)
  add_test(NAME ${svc}.server.start COMMAND ${CMAKE_SOURCE_DIR}/scripts/${svc} start)
  add_test(NAME ${svc}.server.stop COMMAND ${CMAKE_SOURCE_DIR}/scripts/${svc} stop)
  set_tests_properties(${svc}.server.start PROPERTIES FIXTURES_SETUP ${svc}_server LABELS "${svc}"
                       TIMEOUT 600 RESOURCE_LOCK ${svc}_server
                       ENVIRONMENT "${RUNNEL_${SVC}_ENV}")
  set_tests_properties(${svc}.server.stop PROPERTIES FIXTURES_CLEANUP ${svc}_server LABELS "${svc}"
                       TIMEOUT 120 RESOURCE_LOCK ${svc}_server
                       ENVIRONMENT "${RUNNEL_${SVC}_ENV}")
  # Connect, write, read back; the ACL users; wrong passwords refused; a
  # second start is a no-op.
  add_test(NAME ${svc}.smoke COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/services/test_${svc}.py)
  set_tests_properties(${svc}.smoke PROPERTIES LABELS "${svc}" TIMEOUT 300
                       FIXTURES_REQUIRED ${svc}_server RESOURCE_LOCK ${svc}_server
                       ENVIRONMENT "${RUNNEL_PYENV};${RUNNEL_${SVC}_ENV}")
endforeach()

# The 'jdbc' connector on the fixture's PostgreSQL (tests/jdbc/test_postgres.py):
# append, upsert by ON CONFLICT and by UPDATE-then-INSERT, deletes, a replay,
# S4's subscribers_feedback table replayed, errors at start (schema,
# password, unreachable server), SQL injection
# through values and names, refused rows to the dead-letter file, the table
# as a bounded source, S4's lookup join with a 10,000-subscriber fan-out and
# a missing key under every cache setting (fanout); and the lookup/scan unit
# test against the server.
foreach(name sink_oracle_and_replay open_errors injection refused_rows scan_source s4_feedback outage fanout)
  add_test(NAME jdbc.postgres.${name}
           COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/jdbc/test_postgres.py ${RUNNEL_BIN} ${name})
  set_tests_properties(jdbc.postgres.${name} PROPERTIES LABELS "postgres" TIMEOUT 300
                       FIXTURES_REQUIRED postgres_server RESOURCE_LOCK postgres_server
                       ENVIRONMENT "${RUNNEL_PYENV};${RUNNEL_POSTGRES_ENV}")
endforeach()
# TLS (jdbc.postgres.tls*): the fixture's server has ssl on and a CA of its own;
# the role runnel_tls may log in over TLS only. A sink with sslmode verify-full
# (options and the url's query) whose session pg_stat_ssl shows encrypted;
# runnel_tls without TLS and verify-full against another CA refused with one
# clear error; a lookup join over TLS.
foreach(name tls tls_lookup)
  add_test(NAME jdbc.postgres.${name}
           COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/jdbc/test_postgres.py ${RUNNEL_BIN} ${name})
  set_tests_properties(jdbc.postgres.${name} PROPERTIES LABELS "postgres" TIMEOUT 300
                       FIXTURES_REQUIRED postgres_server RESOURCE_LOCK postgres_server
                       ENVIRONMENT "${RUNNEL_PYENV};${RUNNEL_POSTGRES_ENV}")
endforeach()
add_test(NAME jdbc.postgres.lookup
         COMMAND sh -c "eval \"$(\"$0\"/scripts/postgres env | sed 's/^/export /')\" && exec \"$1\" pg"
                 ${CMAKE_SOURCE_DIR} $<TARGET_FILE:test_jdbc>)
set_tests_properties(jdbc.postgres.lookup PROPERTIES LABELS "postgres" TIMEOUT 300
                     FIXTURES_REQUIRED postgres_server RESOURCE_LOCK postgres_server
                     ENVIRONMENT "${RUNNEL_POSTGRES_ENV}")

# The 'redis' sink against the fixture's server: S2's ZADD and HSET (with
# TTL) from `runnel run`, as the ACL user, equal a batch computation; a
# second run leaves them equal.
add_test(NAME redis.sink_s2 COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/redis/test_redis_sink.py)
set_tests_properties(redis.sink_s2 PROPERTIES LABELS "redis" TIMEOUT 300
                     FIXTURES_REQUIRED redis_server RESOURCE_LOCK redis_server
                     ENVIRONMENT "${RUNNEL_PYENV};${RUNNEL_REDIS_ENV}")

# The 'redis' sink over TLS (tests/redis/test_redis_tls.py): the fixture's
# TLS port as the ACL user with its CA (by name and by address, with a client
# certificate to a server requiring one; refused without it), a wrong CA, plain text to the TLS port and TLS to the plain
# port (one clear line each), the TLS server down and back mid-run.
add_test(NAME redis.sink_tls COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/redis/test_redis_tls.py)
set_tests_properties(redis.sink_tls PROPERTIES LABELS "redis" TIMEOUT 300
                     FIXTURES_REQUIRED redis_server RESOURCE_LOCK redis_server
                     ENVIRONMENT "${RUNNEL_PYENV};${RUNNEL_REDIS_ENV}")

# Scenario S2 end to end (tests/redis/test_s2_kafka.py): examples/s2_activity.sql
# under `runnel run` from a real Kafka topic into the real Redis, equal to the
# oracle of tests/scenarios/oracle.py; Redis taken down and brought back in the
# middle of the run (the sink retries, the figures all arrive), SIGTERM during
# an outage, Redis unreachable at start. Needs both servers.
add_test(NAME redis.s2_kafka COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/redis/test_s2_kafka.py)
set_tests_properties(redis.s2_kafka PROPERTIES LABELS "redis;kafka" TIMEOUT 600
                     FIXTURES_REQUIRED "kafka_cluster;redis_server"
                     RESOURCE_LOCK "kafka_cluster;redis_server"
                     ENVIRONMENT "${RUNNEL_PYENV};${RUNNEL_REDIS_ENV}")

# Scenario S2 under SIGKILL (tests/redis/test_s2_kill.py): the pipeline of
# redis.s2_kafka with checkpoints every second and an exactly-once Kafka sink,
# killed 20 times at random moments after a checkpoint while its input arrives,
# restarted each time; Redis ends equal to the oracle, the Kafka sink holds
# every row once. Needs both servers.
add_test(NAME redis.s2_kafka_kill COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/redis/test_s2_kill.py)
set_tests_properties(redis.s2_kafka_kill PROPERTIES LABELS "redis;kafka" TIMEOUT 600
                     FIXTURES_REQUIRED "kafka_cluster;redis_server"
                     RESOURCE_LOCK "kafka_cluster;redis_server"
                     ENVIRONMENT "${RUNNEL_PYENV};${RUNNEL_REDIS_ENV}")

# Scenario S4 end to end (tests/jdbc/test_s4.py): examples/s4_campaigns.sql
# under `runnel run` from a real Kafka topic, subscribers looked up in the real
# PostgreSQL, notifications and the upserted feedback table equal to the oracle;
# a subscriber inserted mid-run used within the cache's refresh interval; a
# replay adds no rows; PostgreSQL stopped and started mid-run; the SQLite
# variant (examples/s4_campaigns_sqlite.sql) on the same campaigns.
add_test(NAME jdbc.s4_kafka COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/jdbc/test_s4.py)
set_tests_properties(jdbc.s4_kafka PROPERTIES LABELS "postgres;kafka" TIMEOUT 600
                     FIXTURES_REQUIRED "kafka_cluster;postgres_server"
                     RESOURCE_LOCK "kafka_cluster;postgres_server"
                     ENVIRONMENT "${RUNNEL_PYENV};${RUNNEL_POSTGRES_ENV}")

# `runnel demo` on real services (tests/cli/test_demo_services.py): with
# REDIS_URL and PGHOST naming the fixtures' servers, S2's keys appear in
# Redis and S4's rows in PostgreSQL (its tables and the demo's subscribers
# created first), no sink errors; SIGINT then stops the demo with exit 0.
add_test(NAME demo.services
         COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/cli/test_demo_services.py ${RUNNEL_BIN})
set_tests_properties(demo.services PROPERTIES LABELS "redis;postgres" TIMEOUT 600
                     FIXTURES_REQUIRED "redis_server;postgres_server"
                     RESOURCE_LOCK "redis_server;postgres_server"
                     ENVIRONMENT "${RUNNEL_PYENV};${RUNNEL_REDIS_ENV};${RUNNEL_POSTGRES_ENV}")

# Scenario S4 under SIGKILL (tests/jdbc/test_s4_kill.py): examples/s4_campaigns.sql
# with checkpoints every second and exactly-once notifications, killed 20 times
# at random moments after a checkpoint while campaigns arrive, restarted each
# time; subscribers_feedback ends equal to the oracle, one row per key, and the
# notifications topic holds every notification once. Needs both servers.
add_test(NAME jdbc.s4_kafka_kill COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/jdbc/test_s4_kill.py)
set_tests_properties(jdbc.s4_kafka_kill PROPERTIES LABELS "postgres;kafka" TIMEOUT 600
                     FIXTURES_REQUIRED "kafka_cluster;postgres_server"
                     RESOURCE_LOCK "kafka_cluster;postgres_server"
                     ENVIRONMENT "${RUNNEL_PYENV};${RUNNEL_POSTGRES_ENV}")

# Exactly-once into a PostgreSQL append table under SIGKILL
# (tests/jdbc/test_eo_kill.py): a Kafka topic into a jdbc table without a
# primary key with 'sink.delivery-guarantee' = 'exactly-once' and a
# checkpoint every second, killed 20 times at random moments after a
# checkpoint while input arrives, restarted each time; the table ends equal
# to the oracle as a multiset (none missing, none twice) and the commit
# records are pruned with the checkpoint files; x2: two processes, either
# killed, the other taking its partitions over half the time (it commits
# the killed one's checkpoint when restoring it). Needs both servers.
add_test(NAME jdbc.eo_kafka_kill COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/jdbc/test_eo_kill.py)
add_test(NAME jdbc.eo_kafka_kill_x2 COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/jdbc/test_eo_kill.py x2)
set_tests_properties(jdbc.eo_kafka_kill jdbc.eo_kafka_kill_x2 PROPERTIES LABELS "postgres;kafka" TIMEOUT 600
                     FIXTURES_REQUIRED "kafka_cluster;postgres_server"
                     RESOURCE_LOCK "kafka_cluster;postgres_server"
                     ENVIRONMENT "${RUNNEL_PYENV};${RUNNEL_POSTGRES_ENV}")

# ---- the dashboard's HTTP server (tests/http/test_api.py) --------------------
# `runnel run --http 127.0.0.1:0` over datagen input, no services: every
# endpoint's JSON, /metrics through prometheus_client's parser (installed in
# .cache/venv by scripts/pyenv, the http.pyenv fixture), errors, the token
# for non-loopback binds, and stalled clients that must not hold the
# pipeline back.
add_test(NAME http.pyenv COMMAND ${CMAKE_SOURCE_DIR}/scripts/pyenv)
set_tests_properties(http.pyenv PROPERTIES FIXTURES_SETUP http_pyenv LABELS "http" TIMEOUT 600
                     RESOURCE_LOCK pyenv)
foreach(part api auth slow)
  add_test(NAME http.${part}
           COMMAND ${CMAKE_SOURCE_DIR}/.cache/venv/bin/python ${RUNNEL_TESTS}/http/test_api.py ${RUNNEL_BIN} ${part})
  set_tests_properties(http.${part} PROPERTIES LABELS "http" TIMEOUT 180 FIXTURES_REQUIRED http_pyenv
                       ENVIRONMENT "${RUNNEL_PYENV}")
endforeach()
set_tests_properties(http.slow PROPERTIES RUN_SERIAL TRUE)
# http.workers_kafka (tests/http/test_workers.py): `runnel run --workers 2
# --http` over an 8-partition topic of the real cluster: /api/tables shows
# each dashboard table merged across the workers (upsert: the union of
# their keys in sort order; append: change order) equal to an oracle, and
# /api/status every partition's consumer lag in the worker that reads it.
add_test(NAME http.workers_kafka
         COMMAND ${CMAKE_SOURCE_DIR}/.cache/venv/bin/python ${RUNNEL_TESTS}/http/test_workers.py)
set_tests_properties(http.workers_kafka PROPERTIES LABELS "http;kafka" TIMEOUT 600
                     FIXTURES_REQUIRED "kafka_cluster;http_pyenv" RESOURCE_LOCK kafka_cluster
                     ENVIRONMENT "${RUNNEL_PYENV}")

# ---- the dashboard page -------------------------------------------------------
# web.assets: the C table behind rn_http_assets() (generated by
# cmake/embed_assets.cmake) is every file of web/dist/, byte for byte.
# web.dashboard: the page in Debian's headless Chromium driven by
# playwright-core (tests/web/test_dashboard.mjs) against the fixture server
# (tests/web/fixture_server.py): no console errors, one SVG node per operator,
# a result table equal to /api/tables/NAME, a change shown within 2 s, dark and
# light; screenshots in build/web/. test_dashboard.mjs takes the server's URL,
# so the same test runs against `runnel run --http` (run_dashboard_test.sh --url).
add_test(NAME web.assets
         COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/web/test_assets.py
                 ${CMAKE_BINARY_DIR}/generated/http_assets.c ${CMAKE_SOURCE_DIR}/web/dist)
set_tests_properties(web.assets PROPERTIES LABELS "web" TIMEOUT 60 ENVIRONMENT "${RUNNEL_PYENV}")
# web.dist_current: web/dist/ is what scripts/web-build makes of web/src/.
add_test(NAME web.dist_current COMMAND ${CMAKE_SOURCE_DIR}/scripts/web-build --check)
set_tests_properties(web.dist_current PROPERTIES LABELS "web" TIMEOUT 300 RESOURCE_LOCK web_npm)
add_test(NAME web.dashboard
         COMMAND ${RUNNEL_TESTS}/web/run_dashboard_test.sh --out ${CMAKE_BINARY_DIR}/web)
set_tests_properties(web.dashboard PROPERTIES LABELS "web" TIMEOUT 600 RESOURCE_LOCK web_browser
                     ENVIRONMENT "${RUNNEL_PYENV}")

# web.dashboard_demo: the same page test against the real server, `runnel
# demo` with its five pipelines (tests/web/test_demo_page.py), S2's top_pages
# as the result table; SIGINT then stops the demo with exit 0.
add_test(NAME web.dashboard_demo
         COMMAND ${Python3_EXECUTABLE} ${RUNNEL_TESTS}/web/test_demo_page.py ${RUNNEL_BIN}
                 ${CMAKE_BINARY_DIR}/web-demo)
set_tests_properties(web.dashboard_demo PROPERTIES LABELS "web;demo" TIMEOUT 600 RESOURCE_LOCK web_browser
                     ENVIRONMENT "${RUNNEL_PYENV}")
