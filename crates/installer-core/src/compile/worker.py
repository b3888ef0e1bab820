"""The compile worker of installer-core (`compile/mod.rs` documents the protocol).

Run by the environment's interpreter as `python -I -S -B -c <this file>`: Python 3.7 or newer
(`OLDEST_PYTHON`).
Files are read and written unbuffered: one `.pyc` is one write, no buffer object or tty check.
"""
import marshal, os, sys, warnings
from importlib.util import MAGIC_NUMBER, source_hash
warnings.filterwarnings("ignore")
inp, out = sys.stdin.buffer, sys.stdout.buffer
flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_BINARY", 0)

def u32(n):
    return (n & 0xFFFFFFFF).to_bytes(4, "little")

def marshalled_name(name):
    """How marshal (version 4) writes `name`: (its possible type codes, the length, the UTF-8)."""
    data = name.encode("utf-8", "surrogatepass")
    if name.isascii() and len(data) < 256:
        return b"zZ", bytes([len(data)]), data
    return (b"aA" if name.isascii() else b"ut"), u32(len(data)), data

def renamed(code, old, new):
    """`code` marshalled for a file named `old`, for one named `new`; None where unsure."""
    types, length, data = marshalled_name(old)
    new_types, new_length, new_data = marshalled_name(new)
    at = code.find(data)
    start = at - len(length) - 1
    if types != new_types or at < 0 or code.find(data, at + 1) != -1 or start < 0:
        return None
    if code[start] & 0x7F not in types or code[start + 1:at] != length:
        return None
    return code[:start + 1] + new_length + new_data + code[at + len(data):]

def write(cfile, body, stat):
    perm = (stat.st_mode | 0o200) & 0o666
    try:
        fd = os.open(cfile, flags, perm)
    except FileNotFoundError:
        os.makedirs(os.path.dirname(cfile), exist_ok=True)
        fd = os.open(cfile, flags, perm)
    try:
        rest = memoryview(body)
        while rest:
            rest = rest[os.write(fd, rest):]
    finally:
        os.close(fd)

def pyc(mode, source, cfile, dfile, first=None):
    """Writes the `.pyc` of `source`; `first` is the (name, marshalled code) of a file with the
    same content. Returns this file's, and whether it was renamed from `first`'s."""
    code = renamed(first[1], first[0], dfile) if first else None
    was_renamed = code is not None
    if code is None or mode == "H":
        with open(source, "rb", buffering=0) as f:
            stat = os.fstat(f.fileno())
            data = f.readall()
    else:
        stat = os.stat(source)
    if code is None:
        # Held by a name while marshalled, as by py_compile: marshal flags an object referenced
        # more than once for back-references, and the bytes would differ.
        code_object = compile(data, dfile, "exec", dont_inherit=True)
        code = marshal.dumps(code_object)
    if mode == "H":
        header = u32(3) + source_hash(data)
    else:
        header = u32(0) + u32(int(stat.st_mtime)) + u32(stat.st_size)
    write(cfile, MAGIC_NUMBER + header + code, stat)
    return (dfile, code), was_renamed

# The longest message answered (bytes): a group's answers must fit in a pipe (`GROUP_FILES`).
MAX_MESSAGE = 240

def answer(e):
    if isinstance(e, SyntaxError):
        msg = "%s: %s (line %s)" % (type(e).__name__, e.msg, e.lineno)
    else:
        msg = "%s: %s" % (type(e).__name__, e)
    data = msg.encode("utf-8", "replace").replace(b"\n", b" ")
    if len(data) > MAX_MESSAGE:
        data = data[:MAX_MESSAGE - 3].decode("utf-8", "ignore").encode("utf-8") + b"..."
    return b"E" + data + b"\n"

while True:
    line = inp.readline()
    if not line:
        break
    fields = [os.fsdecode(p) for p in inp.read(int(line)).split(b"\0")]
    mode, first = fields[0], None
    for i in range(1, len(fields), 3):
        try:
            first, renamed_code = pyc(mode, *fields[i:i + 3], first=first)
            out.write(b"R\n" if renamed_code else b"K\n")
        except Exception as e:
            out.write(answer(e))
    out.flush()
