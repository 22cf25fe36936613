#!/usr/bin/env python3
"""ktool - a small Kafka client for runnel's tests (confluent-kafka / librdkafka).

Run it with the test venv:  .cache/venv/bin/python tests/kafka/ktool.py -h
(scripts/pyenv creates the venv; scripts/kafka starts the brokers).

Connection options, accepted by every subcommand:
  --bootstrap B      default $KAFKA_BOOTSTRAP, or $KAFKA_SASL_BOOTSTRAP with --sasl
  --sasl             SASL_SSL with SCRAM; credentials from --user/--password/--ca
                     or $KAFKA_SASL_USER / $KAFKA_SASL_PASSWORD / $KAFKA_CA
  --mechanism M      SCRAM-SHA-512 (default) or SCRAM-SHA-256

Subcommands:
  produce TOPIC FILE [--key-field F[,G..]] [--partition P] [--kv] [--header k=v]...
  consume TOPIC --out FILE [--expect N] [--until-idle S] [--timeout S] [--read-uncommitted]
  create TOPIC [--partitions P] [--replication R] [--config k=v]...
  delete TOPIC
  offsets GROUP TOPIC [--metadata]
  topics [--prefix P]
  brokers
  wait-ready --brokers N [--timeout S] [--node ID] [--pid PID]...

Exit status: 0 ok, 1 failure (message on stderr), 2 usage error.
"""

import argparse
import json
import os
import socket
import struct
import sys
import time
import uuid

try:
    from confluent_kafka import (Consumer, KafkaError, KafkaException, Producer,
                                 TopicPartition, OFFSET_BEGINNING)
    from confluent_kafka.admin import AdminClient, NewTopic
except ImportError:  # pragma: no cover
    sys.stderr.write("ktool: confluent-kafka is missing; run scripts/pyenv and use .cache/venv/bin/python\n")
    sys.exit(1)


class Fail(Exception):
    pass


def die(msg):
    raise Fail(msg)


# ---------------------------------------------------------------- connection

def client_conf(args, **extra):
    bootstrap = args.bootstrap
    if not bootstrap:
        bootstrap = os.environ.get("KAFKA_SASL_BOOTSTRAP" if args.sasl else "KAFKA_BOOTSTRAP", "")
    if not bootstrap:
        die("no bootstrap servers: pass --bootstrap or set KAFKA_BOOTSTRAP (eval scripts/kafka env)")
    conf = {"bootstrap.servers": bootstrap, "client.id": "ktool"}
    if args.sasl:
        user = args.user or os.environ.get("KAFKA_SASL_USER")
        password = args.password if args.password is not None else os.environ.get("KAFKA_SASL_PASSWORD")
        ca = args.ca or os.environ.get("KAFKA_CA")
        if not user or password is None or not ca:
            die("--sasl needs --user/--password/--ca or KAFKA_SASL_USER/KAFKA_SASL_PASSWORD/KAFKA_CA")
        conf.update({
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": args.mechanism,
            "sasl.username": user,
            "sasl.password": password,
            "ssl.ca.location": ca,
        })
    if args.debug:
        conf["debug"] = args.debug
    conf.update(extra)
    return conf


class ErrorWatch:
    """Collects fatal client errors (e.g. SASL authentication failure) so that we
    fail fast instead of retrying until a timeout."""

    def __init__(self):
        self.errors = []

    def __call__(self, err):
        code = err.code()
        if err.fatal() or code in (KafkaError._AUTHENTICATION, KafkaError._SSL,
                                   KafkaError.SASL_AUTHENTICATION_FAILED):
            self.errors.append(err)

    def check(self):
        if self.errors:
            die("client error: %s" % self.errors[0].str())


def admin(args, watch=None):
    conf = client_conf(args)
    if watch is not None:
        conf["error_cb"] = watch
    return AdminClient(conf)


def metadata(client, topic=None, timeout=10.0, watch=None):
    """list_topics in short slices, serving callbacks in between so that an
    authentication or TLS failure (reported through error_cb) ends it at once."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        try:
            if topic is None:
                return client.list_topics(timeout=max(0.05, min(0.5, left)))
            return client.list_topics(topic=topic, timeout=max(0.05, min(0.5, left)))
        except KafkaException as e:
            last = e.args[0].str()
        client.poll(0)  # serves error_cb (a Consumer has nothing assigned yet)
        if watch is not None:
            watch.check()
        if time.monotonic() >= deadline:
            die("metadata request failed: %s" % last)


def partitions_of(client, topic, timeout=10.0, watch=None):
    md = metadata(client, topic, timeout, watch)
    t = md.topics.get(topic)
    if t is None or t.error is not None and t.error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
        die("topic %r does not exist" % topic)
    if t.error is not None:
        die("topic %r: %s" % (topic, t.error.str()))
    return sorted(t.partitions)


def compact(obj):
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


# ---------------------------------------------------------------- produce

def read_lines(path):
    data = sys.stdin.buffer.read() if path == "-" else open(path, "rb").read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return lines


def cmd_produce(args):
    headers = []
    for h in args.header:
        k, sep, v = h.partition("=")
        if not sep:
            die("--header wants k=v, got %r" % h)
        headers.append((k, v.encode()))
    key_fields = [f for f in (args.key_field or "").split(",") if f]

    watch = ErrorWatch()
    failures = []
    delivered = [0]

    def on_delivery(err, msg):
        if err is not None:
            failures.append("%s [%s]: %s" % (msg.topic(), msg.partition(), err.str()))
        else:
            delivered[0] += 1

    conf = client_conf(args, **{
        "enable.idempotence": True,
        "acks": "all",
        "linger.ms": 5,
        "message.timeout.ms": int(args.timeout * 1000),
        "error_cb": watch,
    })
    p = Producer(conf)
    parts = partitions_of(p, args.topic, watch=watch)
    if args.partition is not None and args.partition not in parts:
        die("topic %r has no partition %d (partitions %s)" % (args.topic, args.partition, parts))
    n = 0
    for lineno, raw in enumerate(read_lines(args.file), 1):
        if raw.endswith(b"\r"):
            raw = raw[:-1]
        if raw == b"" and not args.keep_empty:
            continue
        key = None
        value = raw
        part = args.partition
        msg_headers = list(headers)
        if args.kv:
            try:
                rec = json.loads(raw)
            except ValueError as e:
                die("%s:%d: --kv wants {\"key\":..,\"value\":..} lines: %s" % (args.file, lineno, e))
            if not isinstance(rec, dict) or "value" not in rec:
                die("%s:%d: --kv wants {\"key\":..,\"value\":..} lines" % (args.file, lineno))
            key = None if rec.get("key") is None else compact(rec["key"]).encode()
            value = None if rec["value"] is None else compact(rec["value"]).encode()
            if rec.get("partition") is not None:
                part = int(rec["partition"])
            for hk, hv in (rec.get("headers") or {}).items():
                msg_headers.append((hk, None if hv is None else str(hv).encode()))
        elif key_fields:
            try:
                rec = json.loads(raw)
            except ValueError:
                rec = None  # malformed line: sent as-is, without a key
            if isinstance(rec, dict):
                key = compact({f: rec.get(f) for f in key_fields}).encode()
        kw = {"key": key, "value": value, "on_delivery": on_delivery}
        if part is not None:
            kw["partition"] = part
        if msg_headers:
            kw["headers"] = msg_headers
        while True:
            try:
                p.produce(args.topic, **kw)
                break
            except BufferError:
                p.poll(0.1)
        n += 1
        p.poll(0)
        watch.check()
    deadline = time.monotonic() + args.timeout + 5
    while len(p) > 0 and time.monotonic() < deadline:
        p.flush(0.5)
        watch.check()
    watch.check()
    if len(p) > 0:
        die("produce: %d of %d messages not delivered within %.0fs" % (len(p), n, args.timeout))
    if failures:
        die("produce: %d delivery failures, first: %s" % (len(failures), failures[0]))
    if not args.quiet:
        sys.stderr.write("ktool: produced %d messages to %s\n" % (delivered[0], args.topic))


# ---------------------------------------------------------------- consume

def decode(b):
    return None if b is None else b.decode("utf-8", errors="replace")


def cmd_consume(args):
    watch = ErrorWatch()
    conf = client_conf(args, **{
        "group.id": "ktool-" + uuid.uuid4().hex,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_uncommitted" if args.read_uncommitted else "read_committed",
        "error_cb": watch,
    })
    c = Consumer(conf)
    deadline = time.monotonic() + args.timeout
    try:
        parts = partitions_of(c, args.topic, timeout=max(1.0, min(10.0, args.timeout)), watch=watch)
        c.assign([TopicPartition(args.topic, p, OFFSET_BEGINNING) for p in parts])
        at_eof = set()
        msgs = []
        last_msg = time.monotonic()
        idle_from = None  # when all partitions first reached their end
        while True:
            now = time.monotonic()
            all_eof = len(at_eof) == len(parts)
            if all_eof:
                if args.expect is not None:
                    if len(msgs) >= args.expect:
                        break
                elif args.until_idle is not None:
                    if idle_from is None:
                        idle_from = now
                    if now - max(last_msg, idle_from) >= args.until_idle:
                        break
                else:
                    break
            if now >= deadline:
                if args.expect is not None:
                    die("consume %s: got %d of %d expected messages within %.0fs"
                        % (args.topic, len(msgs), args.expect, args.timeout))
                if not all_eof:
                    die("consume %s: did not reach the end of partitions %s within %.0fs"
                        % (args.topic, sorted(set(parts) - at_eof), args.timeout))
                break
            m = c.poll(0.1)
            watch.check()
            if m is None:
                continue
            err = m.error()
            if err is not None:
                if err.code() == KafkaError._PARTITION_EOF:
                    at_eof.add(m.partition())
                    continue
                if err.fatal() or not err.retriable():
                    die("consume %s: %s" % (args.topic, err.str()))
                continue
            at_eof.discard(m.partition())
            last_msg = time.monotonic()
            msgs.append(m)
    finally:
        c.close()
    msgs.sort(key=lambda m: (m.partition(), m.offset()))
    out = sys.stdout if args.out == "-" else open(args.out, "w", encoding="utf-8")
    for m in msgs:
        hdrs = {}
        for k, v in m.headers() or []:
            hdrs[k] = decode(v)
        out.write(compact({
            "topic": m.topic(),
            "partition": m.partition(),
            "offset": m.offset(),
            "key": decode(m.key()),
            "value": decode(m.value()),
            "headers": hdrs,
            "timestamp": m.timestamp()[1],
        }) + "\n")
    if out is not sys.stdout:
        out.close()
    if not args.quiet:
        sys.stderr.write("ktool: consumed %d messages from %s\n" % (len(msgs), args.topic))


# ---------------------------------------------------------------- admin

def topic_ready(md, topic, partitions):
    """True if md shows topic with its partitions, each with a leader (or
    shows it gone when partitions == 0)."""
    t = md.topics.get(topic)
    if partitions == 0:
        return t is None
    return t is not None and t.error is None and bool(t.partitions) and \
        (partitions < 0 or len(t.partitions) >= partitions) and \
        all(p.leader >= 0 for p in t.partitions.values())


def wait_topic(args, client, topic, partitions, deadline, watch=None):
    """Until the topic has its partitions, each with a leader (or is gone
    when partitions == 0), as every broker answers: a broker that lags
    behind a change would otherwise tell the next client "unknown topic"."""
    while True:
        md = metadata(client, None, timeout=5, watch=watch)
        if topic_ready(md, topic, partitions):
            lagging = []
            for b in md.brokers.values():
                one = AdminClient(client_conf(args, **{"bootstrap.servers": "%s:%d" % (b.host, b.port)}))
                if not topic_ready(metadata(one, None, timeout=5, watch=watch), topic, partitions):
                    lagging.append(b.id)
            if not lagging:
                return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def cmd_create(args):
    config = {}
    for kv in args.config:
        k, sep, v = kv.partition("=")
        if not sep:
            die("--config wants k=v, got %r" % kv)
        config[k] = v
    watch = ErrorWatch()
    a = admin(args, watch)
    metadata(a, None, timeout=args.timeout, watch=watch)  # fails fast on bad credentials
    fut = a.create_topics([NewTopic(args.topic, args.partitions, args.replication, config=config)],
                          operation_timeout=args.timeout, request_timeout=args.timeout)[args.topic]
    try:
        fut.result()
    except KafkaException as e:
        err = e.args[0]
        if err.code() != KafkaError.TOPIC_ALREADY_EXISTS:
            die("create %s: %s" % (args.topic, err.str()))
    watch.check()
    if not wait_topic(args, a, args.topic, args.partitions, time.monotonic() + args.timeout, watch):
        die("create %s: partitions have no leader after %.0fs" % (args.topic, args.timeout))


def cmd_delete(args):
    watch = ErrorWatch()
    a = admin(args, watch)
    metadata(a, None, timeout=args.timeout, watch=watch)
    fut = a.delete_topics([args.topic], operation_timeout=args.timeout,
                          request_timeout=args.timeout)[args.topic]
    try:
        fut.result()
    except KafkaException as e:
        err = e.args[0]
        if err.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
            die("delete %s: %s" % (args.topic, err.str()))
    if not wait_topic(args, a, args.topic, 0, time.monotonic() + args.timeout, watch):
        die("delete %s: still in metadata after %.0fs" % (args.topic, args.timeout))


def cmd_offsets(args):
    from confluent_kafka import ConsumerGroupTopicPartitions
    watch = ErrorWatch()
    a = admin(args, watch)
    parts = partitions_of(a, args.topic, watch=watch)
    req = ConsumerGroupTopicPartitions(args.group, [TopicPartition(args.topic, p) for p in parts])
    try:
        res = a.list_consumer_group_offsets([req], request_timeout=args.timeout)[args.group].result()
    except KafkaException as e:
        die("offsets %s: %s" % (args.group, e.args[0].str()))
    out = {}
    for tp in res.topic_partitions:
        if tp.error is not None:
            die("offsets %s %s[%d]: %s" % (args.group, tp.topic, tp.partition, tp.error.str()))
        off = tp.offset if tp.offset >= 0 else None
        out[str(tp.partition)] = {"offset": off, "metadata": tp.metadata} if args.metadata else off
    print(compact(dict(sorted(out.items(), key=lambda kv: int(kv[0])))))


def cmd_group(args):
    watch = ErrorWatch()
    a = admin(args, watch)
    deadline = time.time() + args.timeout
    while True:
        try:
            d = a.describe_consumer_groups([args.group], request_timeout=args.timeout)[args.group].result()
            break
        except KafkaException as e:
            # a cluster just started answers NOT_COORDINATOR (or "loading") for a while
            err = e.args[0]
            settling = err.retriable() or err.code() in (KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_NOT_AVAILABLE,
                                                         KafkaError.COORDINATOR_LOAD_IN_PROGRESS)
            if not settling or time.time() > deadline:
                die("group %s: %s" % (args.group, err.str()))
            time.sleep(0.2)
    state = getattr(d.state, "name", str(d.state))
    coordinator = d.coordinator.id if d.coordinator is not None else None
    print(compact({"state": state, "members": len(d.members), "coordinator": coordinator}))


def cmd_brokers(args):
    watch = ErrorWatch()
    a = admin(args, watch)
    md = metadata(a, None, timeout=args.timeout, watch=watch)
    print(len(md.brokers))


def cmd_topics(args):
    watch = ErrorWatch()
    a = admin(args, watch)
    md = metadata(a, None, timeout=args.timeout, watch=watch)
    for name in sorted(md.topics):
        if name.startswith(args.prefix):
            print(name)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) counts as dead
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return True


def api_versions_ok(hostport, timeout):
    """True when the broker at host:port answers an ApiVersions (v0) request.
    A KRaft broker processes requests only after it has caught up with the
    metadata log and the controller has unfenced it, so an answer from this very
    address (not from any broker librdkafka picks) tells that it is serving."""
    host, _, port = hostport.rpartition(":")
    client_id = b"ktool"
    body = struct.pack(">hhih", 18, 0, 7, len(client_id)) + client_id
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout) as sock:
            sock.settimeout(timeout)
            sock.sendall(struct.pack(">i", len(body)) + body)
            buf = b""
            while len(buf) < 10:
                chunk = sock.recv(4096)
                if not chunk:
                    return False
                buf += chunk
            _size, corr, err = struct.unpack(">iih", buf[:10])
            return corr == 7 and err == 0
    except (OSError, ValueError):
        return False


def cmd_wait_ready(args):
    """Until the metadata lists --brokers live brokers. With --node ID, also
    until broker ID is in the metadata and answers on its own address (the
    --bootstrap of that one broker, PLAINTEXT). Fails early when one of the
    --pid processes exits."""
    deadline = time.monotonic() + args.timeout
    watch = ErrorWatch()
    # Connection-refused noise is expected while the brokers start.
    conf = client_conf(args, error_cb=watch, log_level=0)
    if args.node is not None and "," in conf["bootstrap.servers"]:
        die("wait-ready --node wants the --bootstrap of that one broker")
    a = AdminClient(conf)
    last = "no answer"
    while True:
        for pid in args.pid:
            if not pid_alive(pid):
                die("wait-ready: process %d exited" % pid)
        left = deadline - time.monotonic()
        if left <= 0:
            die("wait-ready: not ready after %.0fs (%s)" % (args.timeout, last))
        if args.node is not None and not api_versions_ok(conf["bootstrap.servers"], min(1.0, left)):
            last = "broker %d does not answer on %s" % (args.node, conf["bootstrap.servers"])
            time.sleep(0.2)
            continue
        try:
            md = a.list_topics(timeout=min(1.0, max(0.2, left)))
        except KafkaException as e:
            last = e.args[0].str()
            continue
        ids = sorted(md.brokers)
        last = "live brokers %s" % ids
        if len(ids) >= args.brokers and (args.node is None or args.node in ids):
            return
        time.sleep(0.2)


# ---------------------------------------------------------------- main

def main(argv=None):
    conn = argparse.ArgumentParser(add_help=False)
    g = conn.add_argument_group("connection")
    g.add_argument("--bootstrap", "-b", help="bootstrap servers (default $KAFKA_BOOTSTRAP / $KAFKA_SASL_BOOTSTRAP)")
    g.add_argument("--sasl", action="store_true", help="SASL_SSL + SCRAM")
    g.add_argument("--user", help="SASL user (default $KAFKA_SASL_USER)")
    g.add_argument("--password", help="SASL password (default $KAFKA_SASL_PASSWORD)")
    g.add_argument("--ca", help="CA PEM file (default $KAFKA_CA)")
    g.add_argument("--mechanism", default="SCRAM-SHA-512", choices=["SCRAM-SHA-512", "SCRAM-SHA-256"])
    g.add_argument("--debug", help="librdkafka debug contexts, e.g. broker,security")
    g.add_argument("--quiet", "-q", action="store_true", help="no summary line on stderr")

    ap = argparse.ArgumentParser(prog="ktool", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    p = sub.add_parser("produce", parents=[conn], help="produce each line of FILE ('-' = stdin) as one message")
    p.add_argument("topic")
    p.add_argument("file")
    p.add_argument("--key-field", help="key = {\"F\": value} JSON (comma-separated for several fields)")
    p.add_argument("--partition", type=int, help="produce to this partition")
    p.add_argument("--kv", action="store_true",
                   help="lines are {\"key\":..,\"value\":..[,\"partition\":P][,\"headers\":{..}]}; value null = tombstone")
    p.add_argument("--header", action="append", default=[], metavar="K=V", help="add a header to every message")
    p.add_argument("--keep-empty", action="store_true", help="produce empty lines as empty messages (default: skip)")
    p.add_argument("--timeout", type=float, default=60.0, help="delivery timeout, seconds")
    p.set_defaults(fn=cmd_produce)

    p = sub.add_parser("consume", parents=[conn], help="read a topic from the beginning into a JSON-lines file")
    p.add_argument("topic")
    p.add_argument("--out", "-o", required=True, help="output file ('-' = stdout)")
    g2 = p.add_mutually_exclusive_group()
    g2.add_argument("--expect", type=int, help="wait for at least N messages (then read to the current end)")
    g2.add_argument("--until-idle", type=float, metavar="S",
                    help="after reaching the end, go on until no message came for S seconds")
    p.add_argument("--timeout", type=float, default=60.0, help="give up after S seconds (exit 1)")
    p.add_argument("--from-beginning", action="store_true", help="accepted; always reads from the beginning")
    p.add_argument("--read-uncommitted", action="store_true",
                   help="also read records of open/aborted transactions (default read_committed)")
    p.set_defaults(fn=cmd_consume)

    p = sub.add_parser("create", parents=[conn], help="create a topic (ok if it exists)")
    p.add_argument("topic")
    p.add_argument("--partitions", "-p", type=int, default=-1, help="default: the broker's num.partitions")
    p.add_argument("--replication", "-r", type=int, default=-1, help="default: the broker's default.replication.factor")
    p.add_argument("--config", "-c", action="append", default=[], metavar="K=V", help="topic config")
    p.add_argument("--timeout", type=float, default=30.0)
    p.set_defaults(fn=cmd_create)

    p = sub.add_parser("delete", parents=[conn], help="delete a topic (ok if missing)")
    p.add_argument("topic")
    p.add_argument("--timeout", type=float, default=30.0)
    p.set_defaults(fn=cmd_delete)

    p = sub.add_parser("offsets", parents=[conn], help="committed offsets of GROUP on TOPIC as {\"partition\": offset|null}")
    p.add_argument("group")
    p.add_argument("topic")
    p.add_argument("--timeout", type=float, default=30.0)
    p.add_argument("--metadata", action="store_true",
                   help="each partition as {\"offset\": o, \"metadata\": commit metadata}")
    p.set_defaults(fn=cmd_offsets)

    p = sub.add_parser("group", parents=[conn], help="state, member count and coordinator broker id of GROUP as {\"state\": s, \"members\": n, \"coordinator\": id}")
    p.add_argument("group")
    p.add_argument("--timeout", type=float, default=30.0)
    p.set_defaults(fn=cmd_group)

    p = sub.add_parser("topics", parents=[conn], help="print the names of the topics, one a line")
    p.add_argument("--prefix", default="", help="only the names that start with this")
    p.add_argument("--timeout", type=float, default=10.0)
    p.set_defaults(fn=cmd_topics)

    p = sub.add_parser("brokers", parents=[conn], help="print the number of live brokers")
    p.add_argument("--timeout", type=float, default=10.0)
    p.set_defaults(fn=cmd_brokers)

    p = sub.add_parser("wait-ready", parents=[conn], help="wait until N brokers are in the metadata")
    p.add_argument("--brokers", type=int, default=1)
    p.add_argument("--node", type=int, help="require the metadata to come from this broker id")
    p.add_argument("--pid", type=int, action="append", default=[], help="fail early if this process exits")
    p.add_argument("--timeout", type=float, default=90.0)
    p.set_defaults(fn=cmd_wait_ready)

    args = ap.parse_args(argv)
    try:
        args.fn(args)
    except Fail as e:
        sys.stderr.write("ktool: %s\n" % e)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
