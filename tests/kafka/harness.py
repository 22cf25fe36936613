"""harness.py - shared helpers of the Kafka integration tests.

The tests run against the real Apache Kafka cluster that scripts/kafka
started (CTest fixture 'kafka_cluster'). They read its addresses from
`scripts/kafka env`, produce and consume with tests/kafka/ktool.py (the
Python confluent-kafka client: an independent implementation), and drive
`runnel run` as a user would. Every wait polls a condition with a
deadline; nothing sleeps for a fixed time to synchronize.
"""
import atexit
import collections
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KTOOL = os.path.join(ROOT, "tests", "kafka", "ktool.py")
PYTHON = os.path.join(ROOT, ".cache", "venv", "bin", "python")
PIPELINES = os.path.join(ROOT, "tests", "kafka", "pipelines")


class TestFailure(Exception):
    pass


def check(cond, what):
    if not cond:
        raise TestFailure(what)


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def cluster_env():
    """The variables printed by `scripts/kafka env` (KAFKA_BOOTSTRAP, ...)."""
    out = subprocess.run([os.path.join(ROOT, "scripts", "kafka"), "env"], check=True,
                         stdout=subprocess.PIPE, text=True).stdout
    env = {}
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export "):]
        if "=" in line and not line.startswith("#"):
            k, v = line.split("=", 1)
            env[k] = v.strip().strip("'\"")
    check("KAFKA_BOOTSTRAP" in env, "scripts/kafka env printed no KAFKA_BOOTSTRAP (is the cluster up?)")
    os.environ.update(env)  # ktool --sasl reads them
    return env


def ktool(*args, check_rc=True, timeout=180):
    p = subprocess.run([PYTHON, KTOOL] + [str(a) for a in args], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True, timeout=timeout)
    if check_rc and p.returncode != 0:
        raise TestFailure("ktool %s failed (%d): %s" % (" ".join(map(str, args)), p.returncode,
                                                        p.stderr.strip()))
    return p


def create_topic(bootstrap, topic, partitions=8, replication=3):
    ktool("create", topic, "--partitions", partitions, "--replication", replication,
          "--bootstrap", bootstrap)


def produce(bootstrap, topic, lines, key_field=None, extra=()):
    """Produces lines (str or bytes, one message each) to topic."""
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) as f:
        for line in lines:
            f.write(line if isinstance(line, bytes) else line.encode())
            f.write(b"\n")
        path = f.name
    args = ["produce", topic, path, "--bootstrap", bootstrap] + list(extra)
    if key_field:
        args += ["--key-field", key_field]
    try:
        ktool(*args)
    finally:
        os.unlink(path)


def consume(bootstrap, topic, expect=None, timeout=60):
    """Every message of topic as dicts {partition, offset, key, value, headers}."""
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", delete=False) as f:
        path = f.name
    args = ["consume", topic, "--out", path, "--bootstrap", bootstrap, "--timeout", timeout]
    if expect is not None:
        args += ["--expect", expect]
    else:
        args += ["--until-idle", 2]
    try:
        ktool(*args, timeout=timeout + 60)
        with open(path) as f:
            return [json.loads(line) for line in f if line.strip()]
    finally:
        os.unlink(path)


def upsert_state(messages):
    """The table an upsert topic stands for: key -> value, tombstones delete."""
    state = {}
    for m in sorted(messages, key=lambda m: (m["partition"], m["offset"])):
        if m["value"] is None:
            state.pop(m["key"], None)
        else:
            state[m["key"]] = m["value"]
    return state


def canon(obj):
    """A JSON value in a canonical text form, for comparisons as sets."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


def wait_for(cond, timeout, what, interval=0.5):
    """Polls cond() until it returns a true value; fails after timeout s."""
    deadline = time.time() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.time() > deadline:
            raise TestFailure("timed out after %d s waiting for %s" % (timeout, what))
        time.sleep(interval)


def murmur2(data):
    """Kafka's Java murmur2 (org.apache.kafka.common.utils.Utils.murmur2)."""
    length = len(data)
    seed, m, r = 0x9747B28C, 0x5BD1E995, 24
    h = (seed ^ length) & 0xFFFFFFFF
    for i in range(0, length - length % 4, 4):
        k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24)
        k = (k * m) & 0xFFFFFFFF
        k ^= k >> r
        k = (k * m) & 0xFFFFFFFF
        h = (h * m) & 0xFFFFFFFF
        h ^= k
    rest = length % 4
    tail = length - rest
    if rest == 3:
        h ^= data[tail + 2] << 16
    if rest >= 2:
        h ^= data[tail + 1] << 8
    if rest >= 1:
        h ^= data[tail]
        h = (h * m) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * m) & 0xFFFFFFFF
    h ^= h >> 15
    return h


def java_partition(key_bytes, partitions):
    """Where Kafka's Java default partitioner puts a keyed record."""
    return (murmur2(key_bytes) & 0x7FFFFFFF) % partitions


RUN_TAG = "%x" % (int(time.time() * 1000) % 0xFFFFFFF)
_copies = {}
_state_home = []


def state_home():
    """A state directory for the runs of this test process (checkpoints:
    docs/checkpoints.md), shared by its restarts."""
    if not _state_home:
        _state_home.append(tempfile.mkdtemp(prefix="runnel-state-"))
    return _state_home[0]


def run_copy(path):
    """The pipeline file under a name of its own for this test process
    ("<name>_<run tag>.sql"), the same for every start within it: the
    default consumer groups, repartition topics and checkpoint directory
    derive from the pipeline's name, and a test that re-creates its topics
    must not restore an earlier run's commits and checkpoints (a restart
    within one test still does)."""
    if path not in _copies:
        base = os.path.basename(path)
        stem = base[:-4] if base.endswith(".sql") else base
        _copies[path] = os.path.join(tempfile.mkdtemp(prefix="runnel-run-"), "%s_%s.sql" % (stem, RUN_TAG))
    with open(path, "rb") as src:  # as the file is now
        text = src.read()
    copy = _copies[path]
    try:
        with open(copy, "rb") as f:
            if f.read() == text:
                return copy
    except FileNotFoundError:
        pass
    # Replace, never truncate in place: a process started a moment ago
    # may still be reading the copy (kafka.scaleout pv3 once read it empty).
    with open(copy + ".tmp", "wb") as dst:
        dst.write(text)
    os.replace(copy + ".tmp", copy)
    return copy


_started = []  # every Runnel of this test process, killed at its end if still running


def _kill_leftovers():
    """A failed check or a timeout leaves its processes running: they
    would go on loading the machine (and the shared cluster) during the
    tests after this one."""
    for r in _started:
        if r.proc.poll() is None:
            r.proc.kill()
            r.proc.wait()


atexit.register(_kill_leftovers)


class Runnel:
    """A `runnel run` process; stderr goes to a log file shown on failure."""

    def __init__(self, name, pipeline, env, args=()):
        self.name = name
        self.log_path = os.path.join(tempfile.gettempdir(), "runnel-kafka-test-%s.log" % name)
        self.log = open(self.log_path, "wb")
        full_env = dict(os.environ)
        full_env["INSTANCE"] = "runnel-" + name  # static membership: pipelines may use ${INSTANCE}
        full_env["XDG_STATE_HOME"] = state_home()  # checkpoints of this test process, not under ~
        full_env.update(env)
        cmd = [os.path.join(ROOT, "build", "runnel"), "run", run_copy(os.path.join(PIPELINES, pipeline))]
        cmd += list(args)
        log("start %s: %s" % (name, " ".join(cmd)))
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=full_env)
        _started.append(self)

    def output(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait(self, timeout):
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TestFailure("runnel %s did not finish in %d s:\n%s" % (self.name, timeout,
                                                                        self.output()))

    def stop(self, sig=signal.SIGTERM, timeout=60):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        return self.wait(timeout)

    def running(self):
        return self.proc.poll() is None


def main(test):
    """Runs test(env) and turns failures into exit status 1."""
    try:
        test(cluster_env())
    except TestFailure as e:
        print("FAIL: %s" % e, flush=True)
        sys.exit(1)
    print("PASS", flush=True)


def fresh_topics(bootstrap, topics, partitions=8, replication=3):
    """Deletes and re-creates topics, so a re-run starts from nothing."""
    for t in topics:
        ktool("delete", t, "--bootstrap", bootstrap, check_rc=False)
    for t in topics:
        create_topic(bootstrap, t, partitions=partitions, replication=replication)


def gen_user_events(seed, count):
    """The user-events lines of `runnel gen s5` with this seed and count."""
    d = tempfile.mkdtemp(prefix="runnel-gen-")
    subprocess.run([os.path.join(ROOT, "build", "runnel"), "gen", "s5", "--seed", str(seed),
                    "--count", str(count), "--out", d], check=True, stderr=subprocess.DEVNULL)
    with open(os.path.join(d, "user-events.jsonl")) as f:
        return [line.rstrip("\n") for line in f if line.strip()]


def passthrough_expected(lines):
    """What tests/kafka/pipelines/passthrough.sql makes of these events."""
    out = collections.Counter()
    for line in lines:
        e = json.loads(line)
        if e["event_type"] != "page-view":
            out[canon({"user_id": e["user_id"], "page_id": e["page_id"],
                       "event_type": e["event_type"], "timestamp": e["timestamp"]})] += 1
    return out


def output_covers(bootstrap, topic, want):
    """The records of topic (a Counter of canonical values) if it holds
    every wanted record at least as often as wanted, else None."""
    got = collections.Counter(canon(json.loads(m["value"])) for m in consume(bootstrap, topic))
    return got if all(got[k] >= n for k, n in want.items()) else None
