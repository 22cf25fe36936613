"""test_redis.py - smoke test of the Redis server of scripts/redis.

Speaks RESP over a plain socket (no client library): PING, a binary-safe
SET/GET round trip, the ACL users (runnel may write, runnel_ro may only
read, a wrong password is refused with WRONGPASS), the server listens on
127.0.0.1 only, and a second `scripts/redis start` is a no-op (same URL,
same server process).
"""
import os
import socket

from common import TestFailure, check, log, run_main, script, service_env


class Resp:
    """A minimal RESP2 client: one connection, one command at a time."""

    def __init__(self, host, port):
        self.sock = socket.create_connection((host, port), timeout=10)
        self.buf = b""

    def close(self):
        self.sock.close()

    def _line(self):
        while b"\r\n" not in self.buf:
            data = self.sock.recv(65536)
            if not data:
                raise TestFailure("redis closed the connection")
            self.buf += data
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n):
        while len(self.buf) < n + 2:
            data = self.sock.recv(65536)
            if not data:
                raise TestFailure("redis closed the connection")
            self.buf += data
        out, self.buf = self.buf[:n], self.buf[n + 2:]
        return out

    def _reply(self):
        line = self._line()
        kind, rest = line[:1], line[1:]
        if kind == b"+":
            return rest.decode()
        if kind == b"-":
            return RedisError(rest.decode())
        if kind == b":":
            return int(rest)
        if kind == b"$":
            n = int(rest)
            return None if n < 0 else self._exact(n)
        if kind == b"*":
            n = int(rest)
            return None if n < 0 else [self._reply() for _ in range(n)]
        raise TestFailure("unexpected RESP reply %r" % line)

    def call(self, *args):
        """Sends one command; returns its reply (a RedisError for an error reply)."""
        out = b"*%d\r\n" % len(args)
        for a in args:
            a = a if isinstance(a, bytes) else str(a).encode()
            out += b"$%d\r\n%s\r\n" % (len(a), a)
        self.sock.sendall(out)
        return self._reply()


class RedisError(str):
    pass


def main():
    url = script("redis", "start").strip()
    env = service_env("redis")
    check(url == env["REDIS_URL"], "start printed %r, env says %r" % (url, env["REDIS_URL"]))
    host, port = env["REDIS_HOST"], int(env["REDIS_PORT"])
    check(host == "127.0.0.1", "REDIS_HOST is %r" % host)
    log("redis at %s" % url)

    r = Resp(host, port)
    if env.get("REDIS_DEFAULT_PASSWORD"):
        check(r.call("AUTH", env["REDIS_DEFAULT_PASSWORD"]) == "OK", "default AUTH refused")
    check(r.call("PING") == "PONG", "PING did not answer PONG")
    pid = r.call("INFO", "server")
    pid = int([l for l in pid.decode().splitlines() if l.startswith("process_id:")][0].split(":")[1])
    bind = r.call("CONFIG", "GET", "bind")
    check(bind[1].split() == [b"127.0.0.1"], "bind is %r, not loopback only" % bind)

    key = "services.smoke.%d" % os.getpid()
    value = "línea 1\r\nline 2\x00end".encode()
    check(r.call("SET", key, value) == "OK", "SET failed")
    check(r.call("GET", key) == value, "GET did not return the bytes SET wrote")

    # The read-write ACL user.
    a = Resp(host, port)
    check(a.call("AUTH", env["REDIS_USER"], env["REDIS_PASSWORD"]) == "OK", "AUTH runnel refused")
    check(a.call("ACL", "WHOAMI") == env["REDIS_USER"].encode(), "ACL WHOAMI is not runnel")
    check(a.call("APPEND", key, b"+") == len(value) + 1, "APPEND as runnel failed")
    check(r.call("GET", key) == value + b"+", "the default user does not see runnel's write")
    a.close()

    # A wrong password is refused, and the connection stays unauthenticated as that user.
    w = Resp(host, port)
    reply = w.call("AUTH", env["REDIS_USER"], env["REDIS_PASSWORD"] + "x")
    check(isinstance(reply, RedisError) and reply.startswith("WRONGPASS"),
          "a wrong password got %r, not WRONGPASS" % reply)
    reply = w.call("AUTH", "nobody", "x")
    check(isinstance(reply, RedisError) and reply.startswith("WRONGPASS"),
          "an unknown user got %r, not WRONGPASS" % reply)
    w.close()

    # The read-only user reads but may not write.
    ro = Resp(host, port)
    check(ro.call("AUTH", env["REDIS_RO_USER"], env["REDIS_RO_PASSWORD"]) == "OK", "AUTH runnel_ro refused")
    check(ro.call("GET", key) == value + b"+", "runnel_ro cannot read")
    reply = ro.call("SET", key, "x")
    check(isinstance(reply, RedisError) and reply.startswith("NOPERM"),
          "runnel_ro SET got %r, not NOPERM" % reply)
    ro.close()

    check(r.call("DEL", key) == 1, "DEL failed")
    r.close()

    # start again: a no-op on the running server.
    again = script("redis", "start").strip()
    check(again == url, "a second start printed %r, not %r" % (again, url))
    r = Resp(host, port)
    if env.get("REDIS_DEFAULT_PASSWORD"):
        r.call("AUTH", env["REDIS_DEFAULT_PASSWORD"])
    info = r.call("INFO", "server").decode()
    pid2 = int([l for l in info.splitlines() if l.startswith("process_id:")][0].split(":")[1])
    check(pid2 == pid, "a second start restarted the server (pid %d -> %d)" % (pid, pid2))
    r.close()
    script("redis", "status")


if __name__ == "__main__":
    run_main(main)
