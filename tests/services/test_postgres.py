"""test_postgres.py - smoke test of the PostgreSQL server of scripts/postgres.

Drives psql (the client of the PostgreSQL package) over TCP: role runnel
writes a table and reads it back (UTF-8 text, NULL, numeric), runnel_ro
reads it but may not write, runnel_md5 logs in, a wrong or missing
password is refused, the server listens on 127.0.0.1 only, TLS: runnel_tls
logs in with sslmode verify-full and the CA of `env` (pg_stat_ssl says
ssl), is refused without TLS, runnel still connects in plain text; and a
second `scripts/postgres start` is a no-op (same URL, same server).
"""
import os
import subprocess

from common import check, log, run_main, script, service_env


def psql(env, user, password, sql, sslmode=None):
    """Runs sql as user over TCP (sslmode: libpq's, with the CA of `env`);
    returns the CompletedProcess (unaligned, tuples only)."""
    penv = dict(os.environ)
    for k in ("PGSERVICE", "PGSSLMODE", "PGSSLROOTCERT", "PGPASSFILE", "PGOPTIONS"):
        penv.pop(k, None)
    if sslmode:
        penv.update(PGSSLMODE=sslmode, PGSSLROOTCERT=env["POSTGRES_CA"])
    penv["PGCONNECT_TIMEOUT"] = "10"
    if password is None:
        penv.pop("PGPASSWORD", None)
        penv["PGPASSFILE"] = os.devnull
    else:
        penv["PGPASSWORD"] = password
    return subprocess.run(["psql", "-X", "-w", "-At", "-v", "ON_ERROR_STOP=1", "-h", env["PGHOST"],
                           "-p", env["PGPORT"], "-U", user, "-d", env["PGDATABASE"], "-c", sql],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=penv,
                          timeout=60)


def ok(env, user, password, sql, sslmode=None):
    p = psql(env, user, password, sql, sslmode)
    check(p.returncode == 0, "psql as %s failed (%d): %s" % (user, p.returncode, p.stderr.strip()))
    return p.stdout


def refused(env, user, password, sql, why, sslmode=None):
    p = psql(env, user, password, sql, sslmode)
    check(p.returncode != 0, "psql as %s succeeded, expected: %s" % (user, why))
    check(why in p.stderr, "psql as %s: expected %r in: %s" % (user, why, p.stderr.strip()))


def main():
    url = script("postgres", "start").strip()
    env = service_env("postgres")
    check(url == env["POSTGRES_URL"], "start printed %r, env says %r" % (url, env["POSTGRES_URL"]))
    check(url == "postgresql://%s@127.0.0.1:%s/%s" % (env["PGUSER"], env["PGPORT"], env["PGDATABASE"]),
          "unexpected URL %r" % url)
    log("postgres at %s" % url)
    user, password = env["PGUSER"], env["PGPASSWORD"]

    started = ok(env, user, password, "SELECT pg_postmaster_start_time()").strip()
    check(ok(env, user, password, "SHOW listen_addresses").strip() == "127.0.0.1",
          "listen_addresses is not 127.0.0.1 only")
    check(ok(env, user, password, "SELECT inet_server_addr()").strip() == "127.0.0.1",
          "not connected over loopback TCP")

    table = "services_smoke_%d" % os.getpid()
    ok(env, user, password, "CREATE TABLE %s (id int PRIMARY KEY, name text, amount numeric(10,2))" % table)
    ok(env, user, password, "INSERT INTO %s VALUES (1, 'línea ☃', 12.50), (2, NULL, -3)" % table)
    rows = ok(env, user, password,
              "SELECT id, coalesce(name, '<null>'), amount FROM %s ORDER BY id" % table).splitlines()
    check(rows == ["1|línea ☃|12.50", "2|<null>|-3.00"], "read back %r" % rows)

    # Passwords are required and checked.
    refused(env, user, password + "x", "SELECT 1", "password authentication failed")
    refused(env, user, None, "SELECT 1", "no password supplied")
    refused(env, "nobody", "x", "SELECT 1", "password authentication failed")

    # The read-only role reads runnel's new table but may not write it.
    ro, ro_pw = env["POSTGRES_RO_USER"], env["POSTGRES_RO_PASSWORD"]
    check(ok(env, ro, ro_pw, "SELECT count(*) FROM %s" % table).strip() == "2", "runnel_ro cannot read")
    refused(env, ro, ro_pw, "INSERT INTO %s VALUES (3, 'x', 0)" % table, "permission denied")
    refused(env, ro, ro_pw, "CREATE TABLE %s_ro (x int)" % table, "permission denied")

    # The MD5-stored role logs in and, as a member of runnel, writes.
    md5, md5_pw = env["POSTGRES_MD5_USER"], env["POSTGRES_MD5_PASSWORD"]
    ok(env, md5, md5_pw, "INSERT INTO %s VALUES (3, 'md5', 1)" % table)
    refused(env, md5, md5_pw + "x", "SELECT 1", "password authentication failed")

    # TLS: runnel_tls only over TLS, the server verified by the CA of `env`;
    # plain connections still work for the other roles.
    tls, tls_pw = env["POSTGRES_TLS_USER"], env["POSTGRES_TLS_PASSWORD"]
    mine = "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()"
    check(ok(env, tls, tls_pw, mine, "verify-full").strip() == "t", "runnel_tls not over TLS")
    ok(env, tls, tls_pw, "INSERT INTO %s VALUES (4, 'tls', 1)" % table, "verify-full")
    refused(env, tls, tls_pw, "SELECT 1", "no encryption", "disable")
    check(ok(env, user, password, mine, "disable").strip() == "f", "runnel's plain connection is encrypted")
    check(ok(env, user, password, mine, "verify-full").strip() == "t", "runnel cannot use TLS")

    ok(env, user, password, "DROP TABLE %s" % table)

    # start again: a no-op on the running server.
    again = script("postgres", "start").strip()
    check(again == url, "a second start printed %r, not %r" % (again, url))
    check(ok(env, user, password, "SELECT pg_postmaster_start_time()").strip() == started,
          "a second start restarted the server")
    script("postgres", "status")


if __name__ == "__main__":
    run_main(main)
