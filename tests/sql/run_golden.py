#!/usr/bin/env python3
"""run_golden.py - one SQL golden test: run a pipeline over files, compare outputs.

Usage:
    run_golden.py CASE_DIR RUNNEL            run the case, exit 1 on any difference
    run_golden.py CASE_DIR RUNNEL --update   rewrite CASE_DIR/expected from runnel's output
    run_golden.py --errors SQL_FILE RUNNEL   an error case: SQL_FILE must be rejected; the
                                             file SQL_FILE minus .sql plus .expected lists
                                             substrings stderr must contain, one per line

A case directory holds:
    pipeline.sql        the pipeline
    input/<topic>.jsonl source files
    expected/*.jsonl    the outputs, hand-computed
    args (optional)     extra arguments for `runnel test`, e.g. "--now 1714557600"
    env (optional)      NAME=VALUE lines added to runnel's environment (for ${NAME}
                        references in options)

The case runs as `runnel test pipeline.sql --input input --output TMP` with
CASE_DIR as the working directory, so paths in messages are "input/<file>".

Comparison rules:
  * every file in expected/ (subdirectories included) must equal TMP/<same
    path> byte for byte, except the dead letters (see below); an empty
    expected file also matches a missing one;
  * TMP must hold no other non-empty .jsonl file (an unexpected empty file,
    e.g. a sink that got no rows, is ignored);
  * the dead letters, _runnel/dead-letters.jsonl, are compared line by line as JSON: "source", "line" and "value"
    exactly, "file" by its last path component, and the expected "error" is
    a substring the actual error must contain ("" = any non-empty text);
    every dead-lettered line must also be reported on stderr as
    "<file basename>:<line>:";
  * `runnel test` must exit 0.
On a mismatch a unified diff is printed and the output directory is kept.

--update (maintainers): after changing a case on purpose, run with --update,
then READ the diff (git diff tests/sql/cases) and check every changed line by
hand before committing: the point of these files is that they were computed
independently of runnel.
"""
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

TIMEOUT_S = 120
DEAD_LETTERS = "_runnel/dead-letters.jsonl"  # where `runnel test` writes undecodable lines


def read_lines(path):
    if not os.path.exists(path):
        return []
    with open(path, "rb") as f:
        data = f.read()
    return data.decode("utf-8", errors="replace").splitlines(keepends=True)


def unified(expected_path, actual_path, exp_lines, act_lines):
    return "".join(difflib.unified_diff(exp_lines, act_lines, fromfile=expected_path,
                                        tofile=actual_path))


def compare_dlq(expected_path, actual_path, stderr):
    """Returns a list of problems (strings) for the dead-letter file."""
    problems = []
    exp_lines = read_lines(expected_path)
    act_lines = read_lines(actual_path)
    exp, act = [], []
    for i, ln in enumerate(exp_lines, 1):
        try:
            exp.append(json.loads(ln))
        except ValueError as e:
            return ["%s:%d: expected file is not JSON: %s" % (expected_path, i, e)]
    for i, ln in enumerate(act_lines, 1):
        try:
            obj = json.loads(ln)
        except ValueError as e:
            problems.append("%s:%d: not JSON (%s): %r" % (actual_path, i, e, ln))
            continue
        if not isinstance(obj, dict):
            problems.append("%s:%d: not a JSON object: %r" % (actual_path, i, ln))
            continue
        act.append(obj)
    if problems:
        return problems
    if len(exp) != len(act):
        problems.append(DEAD_LETTERS + ": expected %d entries, got %d" % (len(exp), len(act)))
    for i, (e, a) in enumerate(zip(exp, act), 1):
        keys = ["source", "file", "line", "error", "value"]
        missing = [k for k in keys if k not in a]
        if missing:
            problems.append("dlq entry %d lacks %s: %s" % (i, missing, json.dumps(a)))
            continue
        bad = []
        for k in ("source", "line", "value"):
            if e.get(k) != a[k]:
                bad.append("%s: expected %r, got %r" % (k, e.get(k), a[k]))
        if os.path.basename(str(e.get("file"))) != os.path.basename(str(a["file"])):
            bad.append("file: expected .../%s, got %r"
                       % (os.path.basename(str(e.get("file"))), a["file"]))
        err = a["error"]
        if not isinstance(err, str) or not err:
            bad.append("error: expected a non-empty message, got %r" % (err,))
        elif e.get("error", "") not in err:
            bad.append("error: expected to contain %r, got %r" % (e.get("error"), err))
        if bad:
            problems.append("dlq entry %d: %s" % (i, "; ".join(bad)))
    for e in exp:
        tag = "%s:%s:" % (os.path.basename(str(e.get("file"))), e.get("line"))
        if tag not in stderr:
            problems.append("stderr does not report the bad line as %r" % tag)
    if problems:
        problems.append(unified(expected_path, actual_path, exp_lines, act_lines))
    return problems


def run_case(case_dir, runnel, update):
    case_dir = os.path.abspath(case_dir)
    runnel = os.path.abspath(runnel)
    name = os.path.basename(case_dir)
    exp_dir = os.path.join(case_dir, "expected")
    out_dir = tempfile.mkdtemp(prefix="runnel-golden-%s-" % name)
    cmd = [runnel, "test", "pipeline.sql", "--input", "input", "--output", out_dir]
    args_file = os.path.join(case_dir, "args")
    if os.path.exists(args_file):
        with open(args_file) as f:
            cmd += f.read().split()
    env = dict(os.environ)
    env_file = os.path.join(case_dir, "env")
    if os.path.exists(env_file):
        with open(env_file) as f:
            env.update(line.strip().split("=", 1) for line in f if "=" in line)
    print("$ (cd %s && %s)" % (case_dir, " ".join(cmd)))
    try:
        p = subprocess.run(cmd, cwd=case_dir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=TIMEOUT_S, env=env)
    except subprocess.TimeoutExpired:
        print("FAIL %s: runnel did not finish in %d s" % (name, TIMEOUT_S))
        return 1
    stderr = p.stderr.decode("utf-8", errors="replace")
    if p.returncode != 0:
        print("FAIL %s: runnel exited with status %d\n--- stderr ---\n%s" % (name, p.returncode,
                                                                            stderr))
        return 1

    actual = sorted(f for f in walk(out_dir) if f.endswith(".jsonl"))
    if update:
        if os.path.isdir(exp_dir):
            shutil.rmtree(exp_dir)
        os.makedirs(exp_dir)
        for f in actual:
            src = os.path.join(out_dir, f)
            if os.path.getsize(src) > 0:
                os.makedirs(os.path.dirname(os.path.join(exp_dir, f)), exist_ok=True)
                shutil.copyfile(src, os.path.join(exp_dir, f))
                print("updated expected/%s" % f)
        shutil.rmtree(out_dir)
        return 0

    problems = []
    expected = sorted(walk(exp_dir)) if os.path.isdir(exp_dir) else []
    if not expected:
        problems.append("the case has no expected/ files")
    for f in expected:
        ep, ap = os.path.join(exp_dir, f), os.path.join(out_dir, f)
        if f == DEAD_LETTERS:
            problems += compare_dlq(ep, ap, stderr)
            continue
        with open(ep, "rb") as fh:
            eb = fh.read()
        ab = b""
        if os.path.exists(ap):
            with open(ap, "rb") as fh:
                ab = fh.read()
        elif eb:
            problems.append("missing output file %s" % f)
        if eb != ab:
            problems.append("%s differs:\n%s" % (f, unified("expected/" + f, f, read_lines(ep),
                                                            read_lines(ap))))
    for f in actual:
        if f not in expected and os.path.getsize(os.path.join(out_dir, f)) > 0:
            problems.append("unexpected non-empty output file %s:\n%s"
                            % (f, "".join(read_lines(os.path.join(out_dir, f))[:20])))
    if problems:
        print("FAIL %s (output kept in %s)" % (name, out_dir))
        for pr in problems:
            print(pr.rstrip("\n"))
        if stderr:
            print("--- runnel stderr ---\n" + stderr)
        return 1
    shutil.rmtree(out_dir)
    print("ok %s" % name)
    return 0


def walk(top):
    """Every file under top, as a path relative to it ('/'-separated)."""
    for d, _, files in os.walk(top):
        for f in files:
            yield os.path.relpath(os.path.join(d, f), top).replace(os.sep, "/")


def run_error(sql_file, runnel):
    """An error case: SQL_FILE next to SQL_FILE's .expected, one substring per
    line (matched case-insensitively) that stderr must contain. runnel must
    exit non-zero, print a compiler-style 'FILE:LINE:COL: error:' line, and
    write no output rows (errors are found before any input is read)."""
    sql_file = os.path.abspath(sql_file)
    runnel = os.path.abspath(runnel)
    exp_file = os.path.splitext(sql_file)[0] + ".expected"
    with open(exp_file, encoding="utf-8") as f:
        wanted = [ln.rstrip("\n") for ln in f if ln.strip()]
    work = tempfile.mkdtemp(prefix="runnel-err-")
    in_dir, out_dir = os.path.join(work, "in"), os.path.join(work, "out")
    os.makedirs(in_dir)
    # Inputs that a pipeline would happily read if it (wrongly) ran.
    row = {"event_type": "page-view", "user_id": 1, "page_id": 1, "timestamp": 1714557600.5,
           "amount": 10, "name": "a"}
    for topic in ("user-events", "events", "purchases", "in", "src"):
        with open(os.path.join(in_dir, topic + ".jsonl"), "w") as f:
            f.write(json.dumps(row) + "\n")
    cmd = [runnel, "test", sql_file, "--input", in_dir, "--output", out_dir]
    print("$ " + " ".join(cmd))
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        print("FAIL: runnel did not finish in %d s" % TIMEOUT_S)
        return 1
    stderr = p.stderr.decode("utf-8", errors="replace")
    problems = []
    if p.returncode == 0:
        problems.append("runnel exited 0; the pipeline must be rejected")
    if p.returncode < 0 or p.returncode >= 128:
        problems.append("runnel died from a signal (status %d)" % p.returncode)
    if not re.search(r"\S+\.sql:\d+:\d+: error: ", stderr):
        problems.append("stderr has no 'FILE.sql:LINE:COL: error: ' diagnostic")
    for w in wanted:
        if w.lower() not in stderr.lower():
            problems.append("stderr does not contain %r" % w)
    if os.path.isdir(out_dir):
        for f in sorted(os.listdir(out_dir)):
            if os.path.getsize(os.path.join(out_dir, f)) > 0:
                problems.append("output file %s was written: errors must be reported before "
                                "any input is read" % f)
    if problems:
        print("FAIL %s" % os.path.basename(sql_file))
        for pr in problems:
            print("  " + pr)
        print("--- runnel stderr ---\n" + stderr)
        return 1
    shutil.rmtree(work)
    print("ok %s" % os.path.basename(sql_file))
    return 0


def main(argv):
    if len(argv) >= 3 and argv[0] == "--errors":
        return run_error(argv[1], argv[2])
    if len(argv) not in (2, 3) or (len(argv) == 3 and argv[2] != "--update"):
        sys.stderr.write(__doc__)
        return 2
    return run_case(argv[0], argv[1], len(argv) == 3)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
