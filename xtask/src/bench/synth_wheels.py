"""Generate synthetic wheels with a correct RECORD (run by `cargo xtask`).

usage: synth_wheels.py SPEC_JSON   ->  prints a JSON list of the wheel paths
SPEC: {"out", "prefix", "wheels", "files", "min_size", "max_size", "random"}
Deterministic: the same spec gives the same bytes. Existing wheels are kept.
"""
import base64
import hashlib
import json
import os
import random
import sys
import zipfile

spec = json.loads(sys.argv[1])
out, prefix = spec["out"], spec["prefix"]
os.makedirs(out, exist_ok=True)

WORDS = (b"def class return import from self None True False value name data result index "
         b"list dict items append yield lambda with open path error raise except try").split()
rng = random.Random(12345)
TEXT = b" ".join(rng.choice(WORDS) + (b"\n" if rng.random() < 0.12 else b"") for _ in range(400_000))

paths = []
for w in range(spec["wheels"]):
    name = f"{prefix}_{w:04d}"
    whl = os.path.join(out, f"{name}-1.0-py3-none-any.whl")
    paths.append(whl)
    if os.path.exists(whl):
        continue
    rng = random.Random(w * 7919 + 1)
    records = []
    tmp = whl + ".tmp"
    with zipfile.ZipFile(tmp, "w") as z:
        def add(arc, data, mode=0o644):
            info = zipfile.ZipInfo(arc, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = (0o100000 | mode) << 16
            info.compress_type = zipfile.ZIP_STORED if spec["random"] else zipfile.ZIP_DEFLATED
            z.writestr(info, data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
            records.append(f"{arc},sha256={digest},{len(data)}")

        add(f"{name}/__init__.py", f"NAME = {name!r}\n".encode())
        subdirs = max(1, spec["files"] // 25)
        for i in range(spec["files"] - 1):
            size = rng.randint(spec["min_size"], spec["max_size"])
            if spec["random"]:
                add(f"{name}/data_{i:04d}.bin", rng.randbytes(size))
            else:
                start = rng.randrange(0, len(TEXT) - size)
                add(f"{name}/sub{i % subdirs:03d}/m{i:05d}.py", TEXT[start:start + size])
        di = f"{name}-1.0.dist-info"
        add(f"{di}/METADATA", f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode())
        add(f"{di}/WHEEL", b"Wheel-Version: 1.0\nGenerator: xtask\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        add(f"{di}/top_level.txt", f"{name}\n".encode())
        records.append(f"{di}/RECORD,,")
        z.writestr(zipfile.ZipInfo(f"{di}/RECORD", date_time=(2020, 1, 1, 0, 0, 0)), "\n".join(records) + "\n")
    os.replace(tmp, whl)
print(json.dumps(paths))
