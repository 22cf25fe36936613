#!/usr/bin/env python3
"""tests/web/test_assets.py - the page compiled into the binary is web/dist/, byte for byte.

  test_assets.py GENERATED_C DIST_DIR

Reads the C file that cmake/embed_assets.cmake generated (the table behind
rn_http_assets(), src/http/assets.h) and checks that it has one entry per
file under DIST_DIR, at "/" + the file's path, with the file's exact bytes
and length and the content type of its extension, and that index.html and
the bundles are among them.
"""
import os
import re
import sys

TYPES = {'.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8',
         '.css': 'text/css; charset=utf-8', '.txt': 'text/plain; charset=utf-8'}


def main():
    gen, dist = sys.argv[1], sys.argv[2]
    with open(gen) as f:
        src = f.read()
    arrays = {m.group(1): bytes(int(x, 16) for x in re.findall(r'0x([0-9a-f]{2})', m.group(2)))
              for m in re.finditer(r'static const unsigned char (asset_\d+)\[\] = \{([^}]*)\};', src)}
    entries = re.findall(r'\{"([^"]*)", "([^"]*)", (asset_\d+), (\d+)\}', src)
    files = sorted('/' + os.path.relpath(os.path.join(d, n), dist)
                   for d, _, ns in os.walk(dist) for n in ns)
    problems = []
    if sorted(e[0] for e in entries) != files:
        problems.append(f'paths {sorted(e[0] for e in entries)} != files {files}')
    for path, ctype, arr, size in entries:
        try:
            with open(os.path.join(dist, path.lstrip('/')), 'rb') as f:
                want = f.read()
        except OSError as e:
            problems.append(f'{path}: embedded but not in {dist}: {e.strerror}')
            continue
        got = arrays.get(arr, b'')
        # Each array ends with a NUL that is not part of the file.
        if got[:-1] != want or int(size) != len(want):
            problems.append(f'{path}: {len(got) - 1} bytes embedded, length {size}, file has {len(want)}')
        ext = os.path.splitext(path)[1]
        if ext in TYPES and ctype != TYPES[ext]:
            problems.append(f'{path}: content type {ctype!r}, want {TYPES[ext]!r}')
    for need in ('/index.html', '/assets/app.js', '/assets/app.css', '/THIRD_PARTY_LICENSES.txt'):
        if need not in files:
            problems.append(f'{need} missing from {dist}')
    if not re.search(r'rn_http_assets\(int \*n\)\s*\{\s*\*n = %d;' % len(entries), src):
        problems.append(f'rn_http_assets() does not report {len(entries)} entries')
    for p in problems:
        print('FAIL:', p)
    print(f'{len(entries)} assets checked' if not problems else f'{len(problems)} problems')
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
