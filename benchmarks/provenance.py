"""Where a benchmark ran: the facts a reader needs to judge its numbers, recorded beside them.

`machine_provenance(chapter)` returns a JSON-ready dict: date, the command, the code (the chapter notebook
whose cells were timed and its SHA-256, the git commit, uncommitted changes), Python and the versions of the packages that time or compute (NumPy, JAX and its plugins, the
NVIDIA libraries), the operating system, CPU model, core count, usable cores and memory, the BLAS NumPy
runs with its threads and kernel (threadpoolctl), the thread and JAX settings in the environment, the load
average at the start (a load near or above the core count means the machine was busy, and the timings say
so), and, when `nvidia-smi` is present, the GPU's name, driver, CUDA version, memory, clocks, performance
state and power. `jax_provenance()` adds the JAX device the run used; `finish(provenance)` the load at the end.
"""
import datetime
import hashlib
import importlib.metadata
import json
import os
import pathlib
import platform
import re
import shutil
import subprocess
import sys

import jax
import numpy as np

try:  # optional: the GPU machine may lack it
    import threadpoolctl
except ImportError:
    threadpoolctl = None

ROOT = pathlib.Path(__file__).resolve().parents[1]
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS", "XLA_FLAGS",
                    "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
JAX_VARIABLES = ("JAX_PLATFORMS", "JAX_ENABLE_X64", "JAX_DEFAULT_MATMUL_PRECISION", "CUDA_VISIBLE_DEVICES",
                 "XLA_PYTHON_CLIENT_PREALLOCATE", "XLA_PYTHON_CLIENT_MEM_FRACTION")
PACKAGE_PREFIXES = ("numpy", "jax", "ml_dtypes", "threadpoolctl", "nvidia-")  # jax, jaxlib, jax-cuda*-plugin, ...
GPU_FIELDS = ("name,driver_version,memory.total,pstate,clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem,"
              "power.draw,power.limit,temperature.gpu")


def cpu_model():
    """The CPU's model name from /proc/cpuinfo, or platform.processor() elsewhere."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def numpy_blas():
    """Name and version of the BLAS NumPy was built against."""
    try:
        blas = np.show_config(mode="dicts")["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # older NumPy: no dict mode
        return None


def blas_runtime():
    """Each BLAS and OpenMP library loaded in this process: its API, version, threads and kernel (threadpoolctl)."""
    if threadpoolctl is None:
        return "threadpoolctl not installed"
    keys = ("user_api", "internal_api", "prefix", "version", "num_threads", "threading_layer", "architecture")
    return [{k: pool.get(k) for k in keys} for pool in threadpoolctl.threadpool_info()]


def packages():
    """Versions of the installed packages that compute or time: NumPy, JAX and its plugins, NVIDIA's libraries."""
    found = {}
    for dist in importlib.metadata.distributions():
        name = dist.metadata["Name"] or ""
        if name.lower().replace("_", "-").startswith(tuple(p.replace("_", "-") for p in PACKAGE_PREFIXES)):
            found[name] = dist.version
    return dict(sorted(found.items()))


def code_state(chapter):
    """The chapter notebook whose code ran, its SHA-256, and the git commit and uncommitted changes, where known."""
    chapter = pathlib.Path(chapter).resolve()
    state = {"chapter": chapter.relative_to(ROOT).as_posix(),
             "chapter_sha256": hashlib.sha256(chapter.read_bytes()).hexdigest(),
             "git_commit": None, "uncommitted_changes": None}
    try:
        run = lambda *args: subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30)
        commit, status = run("rev-parse", "HEAD"), run("status", "--porcelain")
    except (OSError, subprocess.SubprocessError):
        return state
    if not commit.returncode:
        state |= {"git_commit": commit.stdout.strip(), "uncommitted_changes": bool(status.stdout.strip())}
    return state


def memory_bytes():
    """Physical memory of the machine, or None where sysconf does not know it."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def gpu_info():
    """Name, driver, CUDA version, memory, clocks, state and power of each NVIDIA GPU, or None without nvidia-smi."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        query = subprocess.run(["nvidia-smi", f"--query-gpu={GPU_FIELDS}", "--format=csv,noheader"],
                               capture_output=True, text=True, timeout=30)
        header = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError) as err:
        return {"error": str(err)}
    if query.returncode:
        return {"error": (query.stdout + query.stderr).strip()}
    cuda = next((part.split(":")[1].strip().split()[0] for part in header.split("|")
                 if "CUDA Version" in part), None)
    return {"cuda_driver_api": cuda,
            "gpus": [dict(zip(GPU_FIELDS.split(","), (v.strip() for v in row.split(","))))
                     for row in query.stdout.strip().splitlines()]}


def load_average():
    """The 1, 5 and 15 minute load averages, or None where the OS has none."""
    return list(os.getloadavg()) if hasattr(os, "getloadavg") else None


def machine_provenance(chapter):
    """Everything above, as one dict; the load average is taken now, at the start of the run."""
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
        "code": code_state(chapter),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "packages": packages(),
        "os": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_bytes": memory_bytes(),
        "numpy_blas": numpy_blas(),
        "blas_runtime": blas_runtime(),
        "thread_environment": {k: os.environ[k] for k in THREAD_VARIABLES if k in os.environ},
        "jax_environment": {k: os.environ[k] for k in JAX_VARIABLES if k in os.environ},
        "loadavg_start": load_average(),
        "gpu": gpu_info(),
    }


def jax_provenance():
    """The JAX device a run uses (the first), its backend's version, and JAX's matmul precision setting."""
    device = jax.devices()[0]
    return {"jax": jax.__version__, "jaxlib": importlib.metadata.version("jaxlib"), "platform": device.platform,
            "device_kind": device.device_kind, "device": str(device), "device_count": jax.device_count(),
            "platform_version": device.client.platform_version,
            "default_matmul_precision_config": jax.config.jax_default_matmul_precision}


def device_name(provenance):
    """The device kind as a file-name part: "cpu", "nvidia_h100_80gb_hbm3", ..."""
    return re.sub(r"[^a-z0-9]+", "_", provenance["device_kind"].lower()).strip("_")


def add_output_options(parser, stem):
    """--out, --force and --note, the same in every benchmark script."""
    parser.add_argument("--out", type=pathlib.Path, default=None, help=f"default: ./{stem}_<device kind>.json")
    parser.add_argument("--force", action="store_true", help="replace the output file if it exists")
    parser.add_argument("--note", default="", help="free text stored with the provenance")


def output_path(parser, args, stem, provenance):
    """The file to write; an existing one is refused without --force, before anything is measured."""
    out = args.out or pathlib.Path(f"{stem}_{device_name(provenance)}.json")
    if out.exists() and not args.force:
        parser.error(f"{out} exists; pass --force to replace it (or --out another file)")
    return out


def write_json(out, **sections):
    """One JSON file of the sections in the order given (provenance first), its folder created if missing."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(sections, indent=1) + "\n")


def timing_rows(table, names, ratio_key):
    """Rows of a measured table {n: {name: (median ratio, median s, fastest s)}} for the JSON file, in size order."""
    return [{"n": n,
             ratio_key: {k: table[n][k][0] for k in names},
             "median_s": {k: table[n][k][1] for k in names},
             "fastest_s": {k: table[n][k][2] for k in names}} for n in sorted(table)]


def finish(provenance):
    """Record the load average at the end of the run, and a line that states the load before and after."""
    provenance["loadavg_end"] = load_average()
    provenance["load"] = load_note(provenance)
    return provenance


def load_note(provenance):
    """The load averages before and after the run, as numbers: a reader judges them against the core count.

    No label such as "idle": the run itself adds its own threads, and a 1-minute average lags."""
    start, end, cores = provenance.get("loadavg_start"), provenance.get("loadavg_end"), provenance.get("cpu_count")
    if not start or not cores:
        return "load not recorded"
    note = (f"load average before the run {start[0]:.2f} (1 min), {start[1]:.2f} (5 min), "
            f"{start[2]:.2f} (15 min) on {cores} cores")
    return note + (f"; {end[0]:.2f} (1 min) after it" if end else "")
