"""common.py - shared helpers of the smoke tests of tests/services/.

The tests run against the servers that scripts/redis and scripts/postgres
started (CTest fixtures 'redis_server' and 'postgres_server'). They read
the addresses and credentials from `scripts/<service> env`, which honours
the same RUNNEL_<SERVICE>_DIR as the fixture that started the server. Only
the Python standard library and the service's own command-line client are
used. Nothing sleeps to synchronize: every wait polls a condition.
"""
import os
import subprocess
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class TestFailure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def script(service, *args):
    """Runs scripts/<service> ARGS; returns its stdout (fails on a non-zero exit)."""
    p = subprocess.run([os.path.join(ROOT, "scripts", service)] + list(args),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=300)
    if p.returncode != 0:
        raise TestFailure("scripts/%s %s exited %d: %s" % (service, " ".join(args), p.returncode,
                                                           p.stderr.strip()))
    return p.stdout


def service_env(service):
    """The KEY=VALUE lines printed by `scripts/<service> env`, as a dict."""
    env = {}
    for line in script(service, "env").splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            env[k] = v
    return env


def run_main(main):
    """Runs main(); prints ok or the failure and exits 0 or 1."""
    try:
        main()
    except TestFailure as e:
        print("FAIL: %s" % e, flush=True)
        raise SystemExit(1)
    print("ok", flush=True)
