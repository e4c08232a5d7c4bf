#!/usr/bin/env python3
"""Everything the book measures on a GPU, in one command: python3 benchmarks/gpu_run.py OUT

It needs the python3 that runs it to have JAX (with its CUDA plugin on a GPU), NumPy and Matplotlib; threadpoolctl
is optional, and nothing of Jupyter is. Each step runs in a fresh Python and writes into the folder OUT (not
book/data/: a GPU run's files are read there and then copied in, see the README):

  device.json                  the device, driver, CUDA, JAX version and clocks (benchmarks/provenance.py)
  tangent_error.json           the tangent's error in float32 (default and "highest") and bfloat16 against the
                               exact float64 one, beside the chapter's simulations (benchmarks/tangent_error.py)
  jax_matmul_jvp_default.json  the JVP timed in float32 and bfloat16 at JAX's default precision, and where XLA put
                               the tangent's add (benchmarks/jax_matmul_jvp.py, benchmarks/compiled_hlo.py)
  jax_matmul_jvp_highest.json  the same in float32 at precision "highest"
  notebooks.json               every notebook run cell by cell on this device (benchmarks/run_notebooks.py), with
                               each cell's result and printed output, rewritten after each notebook
  run.json                     each step's command, exit status and seconds

On a GPU the benchmarks run at n = 256 ... 8192 (errors at 256, 1024, 4096). Without a GPU the same steps are a
dry run on the CPU at small sizes, a rehearsal that `make test` runs on one small notebook and `make test ALL=1`
on every chapter. When nvidia-smi sees a GPU but JAX does not, it stops at once (exit status 2) instead of
measuring the CPU. Each step has a time limit, and all of them together stop within DEADLINE_S; a step that runs
out of time is killed with everything it started. A failed step does not stop the later ones; the exit status
is 0 only when every step succeeded.
"""
import argparse
import importlib.util
import json
import os
import pathlib
import signal
import subprocess
import sys
import time

DEADLINE_S = 540  # all steps together: inside one 10-minute turn on a lent GPU machine
REQUIRED = ("jax", "numpy", "matplotlib")
HERE = pathlib.Path(__file__).resolve().parent
ROOT = HERE.parent
SIZES = {"gpu": {"jvp": [256, 512, 1024, 2048, 4096, 8192], "error": [256, 1024, 4096], "jvp_args": []},
         "cpu": {"jvp": [16, 32], "error": [16, 64],
                 "jvp_args": ["--repeats", "3", "--min-sample-s", "0.001"]}}
DEVICE_CODE = """
import json, sys
from provenance import jax_provenance, machine_provenance, ROOT
info = {**jax_provenance(), **machine_provenance(ROOT / "book" / "03_jax.ipynb")}
json.dump(info, open(sys.argv[1], "w"), indent=1)
gpu = ((info["gpu"] or {}).get("gpus") or [{}])[0]
print(f"{info['device_kind']} ({info['platform']}), JAX {info['jax']}, jaxlib {info['jaxlib']}, "
      f"{info['platform_version']}")
pinned = [l.split("==")[1].split()[0] for l in open(ROOT / "requirements.in") if l.startswith("jax==")]
if pinned and pinned[0] != info["jax"]:
    print(f"note: the stored outputs come from JAX {pinned[0]}; cells that quote JAX's internals may fail here")
if gpu:
    print(f"driver {gpu.get('driver_version')}, CUDA {info['gpu'].get('cuda_driver_api')}, SM clock "
          f"{gpu.get('clocks.sm')} (max {gpu.get('clocks.max.sm')}), memory clock {gpu.get('clocks.mem')}, "
          f"{gpu.get('pstate')}, power {gpu.get('power.draw')} of {gpu.get('power.limit')}")
"""


def run_step(name, command, allowed, record, out):
    """Run one step in a fresh Python, from this folder, in a process group of its own (killed whole when the step
    runs out of time); record its exit status and seconds in run.json."""
    print(f"== {name}", flush=True)
    start = time.perf_counter()
    proc = subprocess.Popen(command, cwd=HERE, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        status = proc.wait(timeout=allowed)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        status = f"stopped after {allowed:.0f} s"
    seconds = round(time.perf_counter() - start, 1)
    record["steps"].append({"step": name, "command": command, "exit_status": status, "seconds": seconds})
    print(f"   {name}: exit status {status}, {seconds} s", flush=True)
    (out / "run.json").write_text(json.dumps(record, indent=1) + "\n")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out", type=pathlib.Path, help="the folder for the JSON files (created if missing)")
    p.add_argument("--notebooks", type=pathlib.Path, nargs="+",
                   default=sorted((ROOT / "book").glob("*.ipynb")), help="default: every chapter")
    a = p.parse_args(argv)
    missing = [m for m in REQUIRED if importlib.util.find_spec(m) is None]
    if missing:
        p.error(f"this Python ({sys.executable}) lacks {', '.join(missing)}")
    out = a.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    py, jvp, record = sys.executable, str(HERE / "jax_matmul_jvp.py"), {"steps": []}
    run_step("device", [py, "-c", DEVICE_CODE, str(out / "device.json")], 60, record, out)
    device = json.loads((out / "device.json").read_text()) if (out / "device.json").exists() else {}
    if not device:
        print("the device step wrote no device.json: stopping rather than guessing the backend", flush=True)
        return 2
    record["backend"] = device["platform"]
    if (device.get("gpu") or {}).get("gpus") and record["backend"] != "gpu":
        print(f"nvidia-smi lists a GPU but JAX runs on {record['backend']!r}: is JAX's CUDA plugin installed? "
              "Stopping rather than measuring the CPU.", flush=True)
        return 2
    sizes = SIZES["gpu" if record["backend"] == "gpu" else "cpu"]
    print(f"backend: {record['backend']}; "
          f"{'a GPU run' if record['backend'] == 'gpu' else 'a dry run on the CPU, at small sizes'}", flush=True)
    steps = [  # (name, command, seconds allowed); the notebooks last, as their time is the least predictable
        ("tangent error", [py, str(HERE / "tangent_error.py"), "--sizes", *map(str, sizes["error"]),
                           "--out", str(out / "tangent_error.json"), "--force"], 60),
        ("JVP timings, default precision", [py, jvp, "--sizes", *map(str, sizes["jvp"]), *sizes["jvp_args"],
                                            "--dtypes", "float32", "bfloat16",
                                            "--out", str(out / "jax_matmul_jvp_default.json"), "--force"], 120),
        ("JVP timings, precision highest", [py, jvp, "--sizes", *map(str, sizes["jvp"]), *sizes["jvp_args"],
                                            "--dtypes", "float32", "--precision", "highest",
                                            "--out", str(out / "jax_matmul_jvp_highest.json"), "--force"], 150),
        ("notebooks", [py, str(HERE / "run_notebooks.py"), *(str(nb.resolve()) for nb in a.notebooks),
                       "--timeout", "120", "--json", str(out / "notebooks.json")], DEADLINE_S),
    ]
    for name, command, allowed in steps:
        run_step(name, command, max(1, min(allowed, DEADLINE_S - (time.perf_counter() - started))), record, out)
    failed = [s["step"] for s in record["steps"] if s["exit_status"] != 0]
    total = sum(s["seconds"] for s in record["steps"])
    print(f"{len(record['steps']) - len(failed)} of {len(record['steps'])} steps succeeded in {total:.0f} s"
          + (f"; failed: {', '.join(failed)}" if failed else "") + f"; files in {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
