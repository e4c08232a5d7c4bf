"""Read compiled HLO text (`jax.jit(f).lower(...).compile().as_text()`): where did the tangent's add go?

The tangent A_dot B + A B_dot is two GEMMs and an add. A compiler can fold the add into the second GEMM (cuBLAS
with beta = 1 accumulates into the first product; a GEMM fusion can add in its epilogue), or run it as a pass of
its own over memory. `tangent_add` follows the program's output back to the instruction that produced it and
answers "fused into a GEMM (beta = 1)", "fused into a GEMM", "separate", or "unrecognised" when the text has a form
it does not know: it never guesses.
"""
import json
import re

GEMM_TARGET = re.compile(r"gemm|matmul", re.IGNORECASE)  # __cublas$gemm, __cublas$lt$matmul, __onednn$matmul
INSTRUCTION = re.compile(r"^(?P<root>ROOT )?%?(?P<name>[\w.\-]+) = (?P<shape>.+?) (?P<op>[a-z][\w\-]*)\("
                         r"(?P<args>[^)]*)\)(?P<rest>.*)$")
PASS_THROUGH = ("get-tuple-element", "bitcast", "copy", "convert")  # an instruction that moves or casts its operand


def parse(hlo):
    """{computation: {"root": name, "instructions": {name: {op, operands, calls, target, config}}}}, ENTRY's name."""
    computations, entry, current = {}, None, None
    for line in hlo.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith("{"):
            current = line.split("(")[0].split()[-1].lstrip("%")
            computations[current] = {"root": None, "instructions": {}}
            entry = current if line.startswith("ENTRY") else entry
        elif line.strip() == "}":
            current = None
        elif current and (m := INSTRUCTION.match(line.strip())):
            rest = m["rest"]
            calls = re.search(r"(?:calls|to_apply)=%?([\w.\-]+)", rest)
            target = re.search(r'custom_call_target="([^"]*)"', rest)
            computations[current]["instructions"][m["name"]] = {
                "op": m["op"], "operands": re.findall(r"%([\w.\-]+)", m["args"]),
                "calls": calls and calls[1], "target": target and target[1], "config": backend_config(rest)}
            if m["root"]:
                computations[current]["root"] = m["name"]
    return computations, entry


def backend_config(rest):
    """The backend_config JSON of an instruction, as a dict ({} when there is none or it does not parse)."""
    start = rest.find("backend_config=")
    if start < 0:
        return {}
    try:
        return json.JSONDecoder().raw_decode(rest[rest.index("{", start):])[0]
    except ValueError:
        return {}


def is_gemm_call(i):
    """Whether a parsed instruction is a custom call to a GEMM library."""
    return i["op"] == "custom-call" and bool(i["target"]) and bool(GEMM_TARGET.search(i["target"]))


def tangent_add(hlo):
    """Where the compiled tangent adds its two products (see the module's docstring)."""
    computations, entry = parse(hlo)

    def has_dot(name):
        body = computations.get(name, {"instructions": {}})["instructions"].values()
        return any(i["op"] == "dot" or is_gemm_call(i) or (i["calls"] and has_dot(i["calls"])) for i in body)

    def adds_two_gemms(computation, operands):
        """Whether every operand of an add is computed by a GEMM."""
        producers = [producer(computation, operand)[1] for operand in operands]
        return len(producers) == 2 and all(p is not None and is_gemm(p) for p in producers)

    def is_gemm(i):
        return i["op"] == "dot" or is_gemm_call(i) or (i["op"] == "fusion" and has_dot(i["calls"]))

    def producer(computation, name):
        """The instruction that computes `name`, seen through moves and casts and into called computations."""
        i = computations[computation]["instructions"].get(name)
        while i and (i["op"] in PASS_THROUGH or i["op"] in ("call", "async-done")):
            if i["op"] in PASS_THROUGH:
                i = computations[computation]["instructions"].get(i["operands"][0])
            elif i["calls"] in computations:
                computation = i["calls"]
                i = computations[computation]["instructions"].get(computations[computation]["root"])
            else:
                return computation, None
        return computation, i

    if entry is None or not computations[entry]["root"]:
        return "unrecognised"
    computation, out = producer(entry, computations[entry]["root"])
    if out is None:
        return "unrecognised"
    if is_gemm_call(out):
        beta = out["config"].get("gemm_backend_config", {}).get("beta", 0)
        if beta and len(out["operands"]) == 3:
            _, addend = producer(computation, out["operands"][2])
            if addend is not None and is_gemm(addend):
                return "fused into a GEMM (beta = 1)"
        return "unrecognised"
    if out["op"] == "fusion" and out["calls"] in computations:
        body = computations[out["calls"]]
        _, last = producer(out["calls"], body["root"])
        if last is not None and last["op"] == "add":
            if has_dot(out["calls"]):
                return "fused into a GEMM"
            return "separate" if adds_two_gemms(computation, out["operands"]) else "unrecognised"
        return "unrecognised"
    if out["op"] == "add":
        return "separate" if adds_two_gemms(computation, out["operands"]) else "unrecognised"
    return "unrecognised"


def gemm_count(hlo):
    """GEMMs in the text: dots (in any computation) and custom calls to a GEMM library."""
    computations, _ = parse(hlo)
    return sum(i["op"] == "dot" or is_gemm_call(i) for c in computations.values() for i in c["instructions"].values())
