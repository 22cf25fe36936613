#!/usr/bin/env python3
"""tests/web/fixture_server.py - the dashboard's API from fixtures, for the page's tests.

Serves web/dist (the built page: web/dist/X at /X, index.html also at /) and
the read-only API of docs/dashboard.md from the JSON files in
tests/web/fixtures/ (pipelines.json, status.json, tables/NAME.json; the
graphs are `runnel explain`'s of examples/s1, s2 and s5). The times in the
fixtures are moved to now at start. Once a second the figures change the way a
running pipeline's do: counters grow by their rates, rates and lags wander,
watermarks follow the clock, top_pages gets views, active_users a new window
every 5 s, session_stats a changed row every 3 s; /api/stream then sends a
'status' event and a 'tables' event with the tables that changed (all of
them on a new connection's first event).

  fixture_server.py [--host H] [--port P] [--dist DIR] [--fixtures DIR] [--seed N] [-- CMD ARG...]

Prints `runnel: dashboard at http://H:P/` as its first line on stderr (as
`runnel run --http` does). With a command after `--`, runs it with every
`{url}` in its arguments replaced by that URL, then stops and exits with the
command's status; without, serves until interrupted. Python stdlib only.
"""
import argparse
import copy
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
CONTENT_TYPES = {'.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
                 '.css': 'text/css; charset=utf-8', '.txt': 'text/plain; charset=utf-8',
                 '.json': 'application/json', '.png': 'image/png', '.svg': 'image/svg+xml'}


def now_ms():
    return int(time.time() * 1000)


class Model:
    """The pipelines' state: the fixtures, moved to now, changed by tick()."""

    def __init__(self, fixtures, seed):
        self.lock = threading.Lock()
        self.rng = random.Random(seed)
        with open(os.path.join(fixtures, 'pipelines.json')) as f:
            self.pipelines = json.load(f)
        with open(os.path.join(fixtures, 'status.json')) as f:
            self.status = json.load(f)
        self.tables = {}  # (pipeline, name) -> /api/tables object
        self.version = {}  # (pipeline, name) -> counter bumped on each change
        tdir = os.path.join(fixtures, 'tables')
        for fn in sorted(os.listdir(tdir)):
            with open(os.path.join(tdir, fn)) as f:
                t = json.load(f)
            self.tables[(t['pipeline'], t['name'])] = t
            self.version[(t['pipeline'], t['name'])] = 0
        shift = now_ms() - self.status['time_ms']
        self._shift(self.pipelines, shift)
        self._shift(self.status, shift)
        for t in self.tables.values():
            self._shift(t, shift)
            for i, c in enumerate(t['columns']):
                if c['type'].startswith('TIMESTAMP'):
                    for r in t['rows']:
                        if isinstance(r[i], int):
                            r[i] += shift
        self.ticks = 0

    def _shift(self, obj, shift):
        if isinstance(obj, dict):
            for k, v in obj.items():
                if k.endswith('_ms') and isinstance(v, int):
                    obj[k] = v + shift
                else:
                    self._shift(v, shift)
        elif isinstance(obj, list):
            for v in obj:
                self._shift(v, shift)

    def _wander(self, v, lo=0.9, hi=1.1):
        return round(v * self.rng.uniform(lo, hi), 1)

    def tick(self):
        """One second of a running pipeline."""
        r = self.rng
        with self.lock:
            self.ticks += 1
            t = now_ms()
            s = self.status
            s['time_ms'] = t
            s['process']['uptime_s'] = round(s['process']['uptime_s'] + 1.0, 1)
            s['process']['rss_bytes'] += r.randint(-65536, 131072)
            for p in s['pipelines']:
                for o in p['operators']:
                    if o['rows_in_per_s']:
                        o['rows_in_per_s'] = self._wander(o['rows_in_per_s'])
                    o['rows_out_per_s'] = self._wander(o['rows_out_per_s'])
                    o['rows_in'] += int(o['rows_in_per_s'])
                    o['rows_out'] += int(o['rows_out_per_s'])
                    if o['state_keys']:
                        grow = r.randint(0, 20)
                        o['state_keys'] += grow
                        o['state_bytes'] += grow * 120
                    if o['late_rows'] and r.random() < 0.2:
                        o['late_rows'] += 1
                    o['watermark_ms'] = t - r.randint(1500, 3500)
                for src in p['sources']:
                    if src['idle']:
                        continue
                    src['records_per_s'] = self._wander(src['records_per_s'])
                    src['records'] += int(src['records_per_s'])
                    if src['lag'] is not None:
                        src['lag'] = max(0, src['lag'] + r.randint(-40, 40))
                    src['watermark_ms'] = t - r.randint(1000, 4000)
                for k in p['sinks']:
                    k['records_per_s'] = self._wander(k['records_per_s'])
                    k['records'] += int(k['records_per_s'])
            for (pipe, name), tb in self.tables.items():
                if self._tick_table(name, tb, t):
                    tb['updated_ms'] = t
                    self.version[(pipe, name)] += 1

    def _tick_table(self, name, tb, t):
        r = self.rng
        if name == 'top_pages':
            for row in r.sample(tb['rows'], 3):
                row[1] += r.randint(1, 40)
            tb['rows'].sort(key=lambda row: (-row[1], row[0]))
            return True
        if name == 'active_users':
            rows = tb['rows']
            if self.ticks % 5 == 0:
                last = rows[-1]
                rows.append([last[0] + 60000, last[1] + 60000, max(1, last[2] + r.randint(-15, 20))])
                del rows[0]
            else:
                rows[-1][2] = max(1, rows[-1][2] + r.randint(-3, 6))
            return True
        if name == 'session_stats' and self.ticks % 3 == 0:
            row = r.choice(tb['rows'])
            row[1] += 1
            row[2] = round(r.uniform(1, 9), 2)
            return True
        return False

    def table(self, name):
        """The table called NAME or PIPELINE.NAME: (object, None) or (None, error)."""
        with self.lock:
            hits = [tb for (p, n), tb in self.tables.items() if n == name or f'{p}.{n}' == name]
            if not hits:
                return None, 'no dashboard table ' + name
            if len(hits) > 1:
                return None, f'{name} is in several pipelines: name it PIPELINE.{name}'
            return copy.deepcopy(hits[0]), None

    def snapshot(self, versions):
        """Status and the tables changed since versions (which it updates)."""
        with self.lock:
            changed = {}
            for key, v in self.version.items():
                if versions.get(key) != v:
                    versions[key] = v
                    changed[key[1]] = copy.deepcopy(self.tables[key])
            return copy.deepcopy(self.status), changed


class Handler(BaseHTTPRequestHandler):
    server_version = 'runnel-fixture'
    protocol_version = 'HTTP/1.1'

    def log_message(self, fmt, *args):  # quiet; errors still reach stderr
        pass

    def _send(self, code, body, ctype, head=False):
        self.send_response(code)
        self.send_header('Content-Type', ctype)
        self.send_header('Content-Length', str(len(body)))
        self.send_header('Cache-Control', 'no-store')
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def _json(self, code, obj, head=False):
        self._send(code, json.dumps(obj).encode(), 'application/json', head)

    def do_POST(self):
        self._json(405, {'error': 'read-only: only GET and HEAD'})

    do_PUT = do_DELETE = do_PATCH = do_POST

    def do_HEAD(self):
        self.do_GET(head=True)

    def do_GET(self, head=False):
        model = self.server.model
        u = urllib.parse.urlsplit(self.path)
        path = urllib.parse.unquote(u.path)
        q = urllib.parse.parse_qs(u.query)
        if path == '/api/pipelines':
            with model.lock:
                return self._json(200, copy.deepcopy(model.pipelines), head)
        if path == '/api/status':
            with model.lock:
                return self._json(200, copy.deepcopy(model.status), head)
        if path.startswith('/api/tables/'):
            tb, err = model.table(path[len('/api/tables/'):])
            if err:
                return self._json(404, {'error': err}, head)
            if 'key' in q:
                if len(tb['key']) != 1:
                    return self._json(400, {'error': '?key= needs a table with a one-column key'}, head)
                ki = [c['name'] for c in tb['columns']].index(tb['key'][0])
                tb['rows'] = [r for r in tb['rows'] if str(r[ki]) == q['key'][0]]
                tb['total_rows'] = len(tb['rows'])
            return self._json(200, tb, head)
        if path == '/api/stream':
            return self._stream(head)
        if path == '/':
            path = '/index.html'
        name = path.lstrip('/')
        full = os.path.join(self.server.dist, name)
        if any(p in ('', '.', '..') for p in name.split('/')) or not os.path.isfile(full):
            return self._json(404, {'error': 'no such path: ' + u.path}, head)
        with open(full, 'rb') as f:
            body = f.read()
        self._send(200, body, CONTENT_TYPES.get(os.path.splitext(name)[1], 'application/octet-stream'), head)

    def _stream(self, head):
        self.send_response(200)
        self.send_header('Content-Type', 'text/event-stream')
        self.send_header('Cache-Control', 'no-store')
        self.send_header('Connection', 'close')
        self.end_headers()
        self.close_connection = True
        if head:
            return
        versions = {}
        try:
            self.wfile.write(b'retry: 1000\n\n')
            while not self.server.stopping.is_set():
                status, tables = self.server.model.snapshot(versions)
                msg = 'event: status\ndata: ' + json.dumps(status) + '\n\n'
                if tables:
                    msg += 'event: tables\ndata: ' + json.dumps(tables) + '\n\n'
                self.wfile.write(msg.encode())
                self.wfile.flush()
                self.server.ticked.wait(2.0)
        except (BrokenPipeError, ConnectionResetError):
            pass


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class Ticker:
    """Calls model.tick() every second and wakes the streams after each."""

    def __init__(self, server):
        self.server = server

    def run(self):
        while not self.server.stopping.wait(1.0):
            self.server.model.tick()
            # Wake every stream once: a fresh Event per tick.
            old, self.server.ticked = self.server.ticked, threading.Event()
            old.set()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--host', default='127.0.0.1')
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--dist', default=os.path.join(ROOT, 'web', 'dist'))
    ap.add_argument('--fixtures', default=os.path.join(HERE, 'fixtures'))
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('cmd', nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd[:1] == ['--'] else a.cmd

    srv = Server((a.host, a.port), Handler)
    srv.model = Model(a.fixtures, a.seed)
    srv.dist = a.dist
    srv.stopping = threading.Event()
    srv.ticked = threading.Event()
    url = f'http://{a.host}:{srv.server_address[1]}/'
    print(f'runnel: dashboard at {url}', file=sys.stderr, flush=True)
    threading.Thread(target=Ticker(srv).run, daemon=True).start()
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    rc = 0
    try:
        if cmd:
            rc = subprocess.call([c.replace('{url}', url) for c in cmd])
        else:
            srv.stopping.wait()
    except KeyboardInterrupt:
        pass
    srv.stopping.set()
    srv.shutdown()
    return rc


if __name__ == '__main__':
    sys.exit(main())
