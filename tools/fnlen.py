#!/usr/bin/env python3
"""Lists C functions longer than N lines (default 60) in the given files:
the house rule is that a function fits a screen. usage: fnlen.py [-n N] FILE..."""
import re
import sys


def functions(path):
    """(name, first line, line count) of each top-level function body."""
    lines = open(path, errors="replace").read().split("\n")
    depth, start, name = 0, None, None
    for i, line in enumerate(lines, 1):
        code = re.sub(r'"(\\.|[^"\\])*"|\'(\\.|[^\'\\])*\'|//.*$', '""', line)
        if depth == 0 and re.match(r"^[A-Za-z_].*\)\s*\{\s*$", code) and "=" not in code:
            m = re.search(r"([A-Za-z_]\w*)\s*\(", code)
            start, name = i, m.group(1) if m else "?"
        depth += code.count("{") - code.count("}")
        if depth == 0 and start is not None:
            yield name, start, i - start + 1
            start = None


def main(argv):
    limit = 60
    if len(argv) > 1 and argv[0] == "-n":
        limit, argv = int(argv[1]), argv[2:]
    bad = 0
    for path in argv:
        for name, start, n in functions(path):
            if n > limit:
                print("%s:%d: %s is %d lines" % (path, start, name, n))
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
