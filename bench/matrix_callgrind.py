"""Instructions of a callgrind output file split by component (issue 19: "of our client's N
instructions per RPC, A are Asio's, B malloc/free, C ours"), for bench/matrix_instr.py.

A function's own (exclusive) Ir is the sum of its cost lines, leaving out the line after each
`calls=` line (that one is the inclusive cost of a call made from it, counted in the callee).
Names are as callgrind writes them (demangled); a function is put in a component by the namespace
its qualified name starts with (return type, template arguments and parameters stripped) and, for
what has no namespace, by its name or the object it comes from.
"""
import os
import re

# Components, in the order the page lists them.
ASIO = "Asio"
MULTIPRECISION = "Boost.Multiprecision"
BOOST = "other Boost"
MALLOC = "malloc/free/new/delete"
MEM = "memcpy/memmove/memset/str*"
LIBC = "other libc (syscall wrappers, pthread)"
STD = "libstdc++ / std::"
OURS = "ours (amqp::, rpc::, fibonacci::)"
RABBITMQ_C = "librabbitmq"
PROGRAM = "the program's own code"
RUNTIME = "ld.so, vdso, other"
COMPONENTS = [OURS, PROGRAM, RABBITMQ_C, ASIO, MULTIPRECISION, BOOST, STD, MALLOC, MEM, LIBC, RUNTIME]

OUR_NAMESPACES = {"amqp", "rpc", "fibonacci", "programs", "test_support"}
MALLOC_NAMES = {"malloc", "free", "calloc", "realloc", "cfree", "_int_malloc", "_int_free", "_int_realloc",
                "malloc_consolidate", "tcache_init", "operator new", "operator delete", "operator new[]",
                "operator delete[]", "__libc_malloc", "__libc_free", "__libc_calloc", "__libc_realloc",
                "unlink_chunk", "alloc_perturb", "sysmalloc", "__default_morecore", "_int_free_merge_chunk",
                "_int_free_create_chunk", "_int_free_maybe_consolidate", "tcache_get", "tcache_put"}
MEM_NAME = re.compile(r"^_*(mem|str|wmem|__mem|stp)[a-z]*(_[a-z0-9_]+)?$")


def _strip_nested(name, open_c, close_c):
    out, depth = [], 0
    for ch in name:
        if ch == open_c:
            depth += 1
        elif ch == close_c and depth:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def demangled_prefix(name):
    """The first two components of a mangled nested name the demangler gave up on (callgrind leaves
    very long names mangled): '_ZN4amqp14append_message...' -> 'amqp::append_message'."""
    m = re.match(r"^_ZN[KVrRO]*(St|\d+)", name)
    if not m:
        return None
    rest = name[m.end():]
    if m.group(1) == "St":
        return "std::" + rest
    first = rest[:int(m.group(1))]
    m2 = re.match(r"^(\d+)", rest[len(first):])
    second = rest[len(first) + len(m2.group(1)):][:int(m2.group(1))] if m2 else ""
    return f"{first}::{second}"


def qualified(name):
    """'void boost::asio::detail::op<rpc::x>::do_complete(void*, ...)' -> 'boost::asio::detail::op::do_complete'."""
    base = name.split("'")[0]  # callgrind appends 'N to a recursion level (--separate-recs)
    mangled = demangled_prefix(base)
    if mangled:
        return mangled
    base = re.sub(r"\s*\[clone [^\]]*\]", "", base)  # gcc's clones: .isra.0, .part.0, .constprop.0
    base = _strip_nested(_strip_nested(base, "(", ")"), "<", ">")
    base = base.replace("{lambda#", "lambda").replace("{", "").replace("}", "")
    base = re.sub(r"\s+(const|volatile|&&|&)$", "", base.strip())
    parts = base.split()
    if not parts:
        return ""
    if len(parts) >= 2 and parts[-2].endswith("operator"):
        return parts[-2] + " " + parts[-1]  # 'operator new', 'ns::operator delete'
    return parts[-1]


def component(name, obj):
    """The component of a function `name` (demangled) found in object file `obj`."""
    q = qualified(name)
    plain = q.removeprefix("::")
    if plain in MALLOC_NAMES or plain.split("@")[0] in MALLOC_NAMES:
        return MALLOC
    ns = plain.split("::")
    if len(ns) > 1:
        if ns[0] == "boost":
            if ns[1] == "asio":
                return ASIO
            if ns[1] == "multiprecision":
                return MULTIPRECISION
            return BOOST
        if ns[0] in ("std", "__gnu_cxx", "__cxxabiv1"):
            return STD
        if ns[0] in OUR_NAMESPACES:
            return OURS
    base = os.path.basename(obj or "")
    if MEM_NAME.match(plain.split("@")[0]) and (base.startswith("libc") or base.startswith("vgpreload")):
        return MEM
    if base.startswith("libc.so") or base.startswith("libpthread") or base.startswith("libm."):
        return LIBC
    if base.startswith("libstdc++") or base.startswith("libgcc_s"):
        return STD
    if base.startswith("librabbitmq"):
        return RABBITMQ_C
    if base.startswith("ld-linux") or base.startswith("vgpreload") or base.startswith("[") or not base:
        return RUNTIME
    if base.startswith("lib"):
        return RUNTIME  # another shared library (libssl, libcrypto, ...)
    # The program's own binary: our static libraries are linked into it, so what is not in one of
    # our namespaces (main, an anonymous namespace of the program's file) is the program's.
    return PROGRAM


def parse(path):
    """{(function name, object): own Ir} of a callgrind output file."""
    fn_names, ob_names = {}, {}
    costs = {}
    ir_col = 0
    npos = 1
    ob = fn = None
    skip_next = False

    def resolve(table, value):
        m = re.match(r"^\((\d+)\)\s*(.*)$", value)
        if not m:
            return value
        if m.group(2):
            table[m.group(1)] = m.group(2)
        return table.get(m.group(1), value)

    with open(path, errors="replace") as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            c = line[0]
            if c.isdigit() or c in "+-*" or line.startswith("0x"):
                if skip_next:
                    skip_next = False
                    continue
                if fn is None:
                    continue
                fields = line.split()
                if len(fields) > npos + ir_col:
                    key = (fn, ob)
                    costs[key] = costs.get(key, 0) + int(fields[npos + ir_col])
                continue
            key, _, value = line.partition("=")
            if key == "ob":
                ob = resolve(ob_names, value)
            elif key == "fn":
                fn = resolve(fn_names, value)
            elif key == "cfn" or key == "cfi" or key == "cfl":
                if key == "cfn":
                    resolve(fn_names, value)  # defines a compressed name used later by fn=
            elif key == "cob":
                resolve(ob_names, value)
            elif key == "calls":
                skip_next = True
            elif line.startswith("positions:"):
                npos = len(line.split()[1:])
            elif line.startswith("events:"):
                events = line.split()[1:]
                ir_col = events.index("Ir") if "Ir" in events else 0
    return costs


def components(path):
    """{component: own Ir} of a callgrind output file, and the file's total."""
    out = {}
    for (fn, ob), ir in parse(path).items():
        k = component(fn, ob)
        out[k] = out.get(k, 0) + ir
    return out


def per_rpc(path_n1, path_n2, n1, n2):
    """{component: instructions per RPC}: the difference of two runs of n1 and n2 calls, per call."""
    a, b = components(path_n1), components(path_n2)
    return {k: (b.get(k, 0) - a.get(k, 0)) / (n2 - n1) for k in COMPONENTS if k in a or k in b}
