#!/usr/bin/env python3
"""The 'redis' sink over TLS against the real server of the `redis` fixture
(scripts/redis: a TLS port with a certificate signed by a throwaway CA).

1. `runnel run` writes over TLS as the ACL user runnel, verifying the server
   with the CA: by name (rediss://localhost, SNI) into database 3, and by
   address (127.0.0.1) presenting the client certificate to a server that
   requires one (tls-auth-clients yes, set for the test); the keys are read
   back with `redis-cli --tls`. Without the client certificate that server
   refuses us: one line saying so, exit non-zero.
2. The CA of another authority: one error line naming host:port and saying
   the certificate is not trusted, exit non-zero, nothing written.
3. Plain text to the TLS port: one error line naming host:port and hinting
   at TLS, exit non-zero. TLS to the plain port: one line too.
4. The TLS server taken down mid-run (`scripts/redis down`, data kept) and
   brought back: the sink retries, and every row arrives."""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "services"))
import common  # noqa: E402
from common import check, log  # noqa: E402

RUNNEL = os.path.join(common.ROOT, "build", "runnel")

PIPELINE = """
CREATE TABLE src (k STRING, v BIGINT) WITH ('connector' = 'filesystem', 'path' = '{input}', 'format' = 'json');
CREATE TABLE dst (k STRING, v BIGINT) WITH ('connector' = 'redis', {where}, 'username' = 'runnel',
    'password' = '${{REDIS_TEST_PASSWORD}}', 'command' = 'SET', 'key' = '{prefix}:{{k}}', 'value.column' = 'v');
INSERT INTO dst SELECT k, v FROM src;
"""


def cli(env, *args, db="0"):
    p = subprocess.run(["redis-cli", "--tls", "--cacert", env["REDIS_CA"], "-h", "localhost",
                        "-p", env["REDIS_TLS_PORT"], "-n", db, "--user", env["REDIS_USER"], "--pass",
                        env["REDIS_PASSWORD"], "--no-auth-warning"] + list(args),
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0, "redis-cli --tls %s: %s" % (args, p.stderr))
    return p.stdout.splitlines()


def plain_cli(env, *args):
    p = subprocess.run(["redis-cli", "-h", env["REDIS_HOST"], "-p", env["REDIS_PORT"], "--user",
                        env["REDIS_USER"], "--pass", env["REDIS_PASSWORD"], "--no-auth-warning"] + list(args),
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 0 and p.stdout.strip() == "OK", "redis-cli %s: %s %s" % (args, p.stdout, p.stderr))


def write_sql(work, name, where, prefix, input_path):
    path = os.path.join(work, name + ".sql")
    with open(path, "w") as f:
        f.write(PIPELINE.format(input=input_path, where=where, prefix=prefix))
    return path


def errors(stderr):
    return [l for l in stderr.splitlines() if l.strip()]


def wait_for(cond, timeout, what):
    """Polls cond() until it is true; fails after timeout seconds."""
    deadline = time.time() + timeout
    while not cond():
        if time.time() > deadline:
            raise common.TestFailure("timed out after %d s waiting for %s" % (timeout, what))
        time.sleep(0.1)


def main():
    env = common.service_env("redis")
    check("REDIS_TLS_PORT" in env, "scripts/redis env prints no REDIS_TLS_PORT")
    work = tempfile.mkdtemp(prefix="runnel-redis-tls-")
    run_env = dict(os.environ, REDIS_TEST_PASSWORD=env["REDIS_PASSWORD"])
    tls_port, plain_port, ca = env["REDIS_TLS_PORT"], env["REDIS_PORT"], env["REDIS_CA"]
    n = 500
    data = os.path.join(work, "in.jsonl")
    with open(data, "w") as f:
        for i in range(n):
            f.write('{"k": "k%d", "v": %d}\n' % (i, i * 7))
    pid = os.getpid()

    # 1. over TLS, verified by name and by address (with a client certificate)
    cases = [
        ("byname", "'url' = 'rediss://localhost:%s/3', 'tls.ca-file' = '%s'" % (tls_port, ca), "3"),
        ("byaddr", "'host' = '127.0.0.1', 'port' = '%s', 'tls' = 'true', 'tls.ca-file' = '%s', "
                   "'tls.cert-file' = '%s', 'tls.key-file' = '%s'"
         % (tls_port, ca, env["REDIS_CLIENT_CERT"], env["REDIS_CLIENT_KEY"]), "0"),
    ]
    for name, where, db in cases:
        prefix = "tls%d%s" % (pid, name)
        sql = write_sql(work, name, where, prefix, data)
        if name == "byaddr":
            plain_cli(env, "CONFIG", "SET", "tls-auth-clients", "yes")
        try:
            p = subprocess.run([RUNNEL, "run", sql], capture_output=True, text=True, env=run_env, timeout=120)
            if name == "byaddr":  # the same without the client certificate
                nocert = write_sql(work, "nocert", "'url' = 'rediss://127.0.0.1:%s', 'tls.ca-file' = '%s'" % (
                    tls_port, ca), prefix + "nocert", data)
                q = subprocess.run([RUNNEL, "run", nocert], capture_output=True, text=True, env=run_env,
                                   timeout=60)
        finally:
            if name == "byaddr":
                plain_cli(env, "CONFIG", "SET", "tls-auth-clients", "optional")
        check(p.returncode == 0, "%s: runnel run exited %d: %s" % (name, p.returncode, p.stderr[-2000:]))
        if name == "byaddr":
            errs = errors(q.stderr)
            check(q.returncode != 0, "no client certificate, tls-auth-clients yes: exit 0")
            check(len(errs) == 1 and "redis 127.0.0.1:%s: TLS: the server refused the connection" % tls_port
                  in errs[0] and "'tls.cert-file'" in errs[0],
                  "no client certificate: want one line saying the server refused us, got:\n" + q.stderr)
            log("no client certificate: exit %d, %r" % (q.returncode, errs[0]))
        keys = ["%s:k%d" % (prefix, i) for i in range(n)]
        got = cli(env, "MGET", *keys, db=db)
        check(got == [str(i * 7) for i in range(n)], "%s: MGET over TLS differs: %s..." % (name, got[:5]))
        cli(env, "DEL", *keys, db=db)
        log("%s: %d keys written over TLS and read back" % (name, n))

    # 2. a CA that did not sign the server's certificate
    other = os.path.join(work, "other-ca.crt")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=another CA", "-keyout", os.path.join(work, "other-ca.key"), "-out", other],
                   check=True, capture_output=True)
    prefix = "tls%dwrongca" % pid
    sql = write_sql(work, "wrongca", "'url' = 'rediss://127.0.0.1:%s', 'tls.ca-file' = '%s'" % (tls_port, other),
                    prefix, data)
    p = subprocess.run([RUNNEL, "run", sql], capture_output=True, text=True, env=run_env, timeout=60)
    errs = errors(p.stderr)
    check(p.returncode != 0, "wrong CA: exit 0")
    check(len(errs) == 1 and "redis 127.0.0.1:%s" % tls_port in errs[0] and "not trusted" in errs[0],
          "wrong CA: want one line naming the server and the untrusted certificate, got:\n" + p.stderr)
    check(cli(env, "EXISTS", prefix + ":k0") == ["0"], "wrong CA: a key was written")
    log("wrong CA: exit %d, %r" % (p.returncode, errs[0]))

    # 3. plain text to the TLS port, TLS to the plain port
    sql = write_sql(work, "plain2tls", "'url' = 'redis://127.0.0.1:%s'" % tls_port, prefix, data)
    p = subprocess.run([RUNNEL, "run", sql], capture_output=True, text=True, env=run_env, timeout=60)
    errs = errors(p.stderr)
    check(p.returncode != 0, "plain text to the TLS port: exit 0")
    check(len(errs) == 1 and "redis 127.0.0.1:%s" % tls_port in errs[0] and "TLS port?" in errs[0],
          "plain text to the TLS port: want one line naming the server and hinting at TLS, got:\n" + p.stderr)
    log("plain text to the TLS port: exit %d, %r" % (p.returncode, errs[0]))
    sql = write_sql(work, "tls2plain", "'url' = 'rediss://127.0.0.1:%s', 'tls.ca-file' = '%s'" % (plain_port, ca),
                    prefix, data)
    t0 = time.time()
    p = subprocess.run([RUNNEL, "run", sql], capture_output=True, text=True, env=run_env, timeout=60)
    errs = errors(p.stderr)
    check(p.returncode != 0, "TLS to the plain port: exit 0")
    check(len(errs) == 1 and "redis 127.0.0.1:%s: TLS handshake failed" % plain_port in errs[0],
          "TLS to the plain port: want one line naming the server, got:\n" + p.stderr)
    log("TLS to the plain port: exit %d in %.1f s, %r" % (p.returncode, time.time() - t0, errs[0]))

    # 4. the TLS server down mid-run and back: rows fed through a FIFO
    prefix = "tls%drestart" % pid
    fifo = os.path.join(work, "in.fifo")
    os.mkfifo(fifo)
    sql = write_sql(work, "restart", "'url' = 'rediss://localhost:%s', 'tls.ca-file' = '%s'" % (tls_port, ca),
                    prefix, fifo)
    out_path = os.path.join(work, "restart.log")
    with open(out_path, "wb") as out:
        proc = subprocess.Popen([RUNNEL, "run", sql], stdout=out, stderr=subprocess.STDOUT, env=run_env)
    output = lambda: open(out_path, "rb").read().decode("utf-8", "replace")  # noqa: E731
    try:
        feed = open(fifo, "w")
        half = n // 2
        for i in range(half):
            feed.write('{"k": "k%d", "v": %d}\n' % (i, i))
        feed.flush()
        wait_for(lambda: cli(env, "EXISTS", "%s:k%d" % (prefix, half - 1)) == ["1"], 60,
                 "the first half to arrive over TLS")
        common.script("redis", "down")
        try:
            for i in range(half, n):
                feed.write('{"k": "k%d", "v": %d}\n' % (i, i))
            feed.flush()
            wait_for(lambda: len(re.findall(r"retrying in", output())) >= 3, 60,
                     "the sink to retry while Redis is down")
        finally:
            common.script("redis", "start")
        feed.close()
        rc = proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    out = output()
    check(rc == 0, "restart: runnel run exited %d:\n%s" % (rc, out[-3000:]))
    check("delivered again after" in out, "restart: no 'delivered again' line:\n" + out[-3000:])
    keys = ["%s:k%d" % (prefix, i) for i in range(n)]
    got = cli(env, "MGET", *keys)
    check(got == [str(i) for i in range(n)], "restart: keys differ after the outage: %s" % (
        [(k, g) for k, g, i in zip(keys, got, range(n)) if g != str(i)][:5]))
    cli(env, "DEL", *keys)
    retry = [l for l in out.splitlines() if "retrying in" in l][0]
    log("restart: every row arrived; e.g. %r" % retry)
    shutil.rmtree(work)


if __name__ == "__main__":
    common.run_main(main)
