"""The bytecode alone: compile every .py under DIR, nothing else (run by `cargo xtask bench`).

usage: compile_floor.py DIR
One process per CPU, forked once; the sources are dealt out before the clock matters,
biggest first to the least loaded process, so that no process waits for work or for another.
This is what a compile step costs that calls py_compile once per source, as pip and uv do;
an installer can go below it only by doing less per file (ours writes the .pyc itself and
compiles each distinct source once).
"""
import os
import py_compile
import sys
import warnings

warnings.filterwarnings("ignore")
sources = []
for root, _, names in os.walk(sys.argv[1]):
    sources += [os.path.join(root, n) for n in names if n.endswith(".py")]
sources.sort(key=os.path.getsize, reverse=True)
shares = [[] for _ in range(os.cpu_count() or 1)]
loads = [0] * len(shares)
for source in sources:
    least = loads.index(min(loads))
    shares[least].append(source)
    loads[least] += os.path.getsize(source)

children = []
for share in shares[1:]:
    pid = os.fork()
    if pid == 0:
        for source in share:
            py_compile.compile(source, quiet=2)
        os._exit(0)
    children.append(pid)
for source in shares[0]:
    py_compile.compile(source, quiet=2)
for pid in children:
    os.waitpid(pid, 0)
