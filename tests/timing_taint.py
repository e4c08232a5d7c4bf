"""Find assertions that a live timing can decide, by following names through a chapter's code.

A value is *timed* when it comes from a clock (`time.perf_counter`, `time.time`, `time.monotonic`,
`timeit`) or from a function that calls one, or is computed from another timed value. An assertion
(`assert`, `np.testing.assert_*`) that reads a timed value fails on a busy machine and passes on an idle
one, so the book allows none: timings are printed for readers, and claims about cost are checked on exact
counts or committed benchmark data. The analysis is static and deliberately simple: names, not objects.
"""
import ast

CLOCKS = {"perf_counter", "perf_counter_ns", "monotonic", "monotonic_ns", "process_time", "time_ns",
          "default_timer"}
CLOCK_MODULES = {"time": {"time"}, "timeit": {"timeit", "repeat"}}  # time.time(), timeit.timeit(...)


def _called_names(node):
    """Names of the plain functions called anywhere inside node, and "<clock>" for each call of a clock."""
    for sub in ast.walk(node):
        if isinstance(sub, ast.Call):
            f = sub.func
            if isinstance(f, ast.Attribute):  # a method: only a clock counts (x.start() is not start())
                module = getattr(f.value, "id", None)
                if f.attr in CLOCKS or f.attr in CLOCK_MODULES.get(module, ()):
                    yield "<clock>"
            elif isinstance(f, ast.Name):
                yield "<clock>" if f.id in CLOCKS else f.id


def _read_names(node):
    """Names read anywhere inside node."""
    return {sub.id for sub in ast.walk(node) if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load)}


def _uses(node):
    """Everything a node depends on: the names it reads and the functions (or clocks) it calls."""
    return set(_called_names(node)) | _read_names(node)


MUTATORS = {"append", "extend", "insert", "update", "add", "setdefault"}


def _bound(target):
    """Names a target binds or mutates: `x`, `x, y`, and the container in `x[i] = ...` or `x.a = ...`."""
    if isinstance(target, ast.Name):
        return {target.id}
    if isinstance(target, (ast.Tuple, ast.List)):
        return set().union(set(), *(_bound(t) for t in target.elts))
    if isinstance(target, ast.Starred):
        return _bound(target.value)
    if isinstance(target, (ast.Subscript, ast.Attribute)):
        return _bound(target.value)
    return set()


def _bindings(tree):
    """(names bound, node whose value they take) for each binding in the tree, functions included.

    Loop variables are left out: names are not scoped here, and `for name, t in seconds.items()` would
    otherwise taint every later `name`. A comprehension over timings is caught as the value it builds."""
    for stmt in ast.walk(tree):
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):  # a helper that times, by what it calls
            yield {stmt.name}, ast.Tuple(elts=[ast.Name(id=n, ctx=ast.Load()) for n in set(_called_names(stmt))
                                               if n], ctx=ast.Load())
        elif isinstance(stmt, (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.NamedExpr)) and stmt.value:
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            yield set().union(*(_bound(t) for t in targets)), stmt.value
        elif (isinstance(stmt, ast.Call) and isinstance(stmt.func, ast.Attribute)
              and stmt.func.attr in MUTATORS):  # samples.append(timed) taints samples
            yield _bound(stmt.func.value), ast.Tuple(elts=list(stmt.args), ctx=ast.Load())


def _assertion_reads(node):
    """What an assertion reads, or None when node is no assertion."""
    if isinstance(node, ast.Assert):
        return _uses(node.test)
    if isinstance(node, ast.Call):
        f = node.func
        name = f.attr if isinstance(f, ast.Attribute) else getattr(f, "id", "")
        if name.startswith("assert"):
            return set().union(set(), *(_uses(a) for a in node.args))
    return None


def timed_assertions(sources):
    """(cell number, statement) of every assertion in `sources` (code strings, in order) that reads a timed value."""
    trees = [ast.parse(src) for src in sources]
    bindings = [b for tree in trees for b in _bindings(tree)]
    tainted = {"<clock>"}
    changed = True
    while changed:  # to a fixed point: helpers that time, values computed from timings, and so on
        changed = False
        for names, value in bindings:
            if names - tainted and _uses(value) & tainted:
                tainted |= names
                changed = True
    found = []
    for number, tree in enumerate(trees, 1):
        for node in ast.walk(tree):
            reads = _assertion_reads(node)
            if reads and reads & tainted:
                found.append((number, ast.unparse(node).splitlines()[0][:120]))
    return found
