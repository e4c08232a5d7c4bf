"""Where a benchmark ran: the facts a reader needs to judge its numbers, recorded beside them.

`machine_provenance()` returns a JSON-ready dict: date, Python and library versions, CPU model and
core count, the BLAS NumPy uses and the thread settings in the environment, the load average at the
start (a load near or above the core count means the machine was busy, and the timings say so), and,
when `nvidia-smi` is present, the GPU's name, driver, CUDA version and clocks. Standard library and
NumPy only, so the benchmarks stay runnable anywhere.
"""
import datetime
import os
import platform
import shutil
import subprocess
import sys

import numpy as np

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "XLA_FLAGS",
                    "OPENBLAS_CORETYPE")


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


def gpu_info():
    """Name, driver, CUDA version and clocks of each NVIDIA GPU, or None without nvidia-smi."""
    if not shutil.which("nvidia-smi"):
        return None
    fields = "name,driver_version,clocks.sm,clocks.max.sm,clocks.mem,clocks.max.mem,power.limit,temperature.gpu"
    try:
        rows = subprocess.run(["nvidia-smi", f"--query-gpu={fields}", "--format=csv,noheader"],
                              capture_output=True, text=True, timeout=30).stdout.strip().splitlines()
        header = subprocess.run(["nvidia-smi"], capture_output=True, text=True, timeout=30).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    cuda = next((part.split(":")[1].strip().split()[0] for part in header.split("|")
                 if "CUDA Version" in part), None)
    return {"cuda_driver_api": cuda,
            "gpus": [dict(zip(fields.split(","), (v.strip() for v in row.split(",")))) for row in rows]}


def machine_provenance():
    """Everything above, as one dict."""
    return {
        "date_utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "numpy_blas": numpy_blas(),
        "thread_environment": {k: os.environ.get(k) for k in THREAD_VARIABLES if k in os.environ},
        "loadavg_start": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "gpu": gpu_info(),
        "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
    }


def load_note(provenance):
    """The load averages before and after the run, as numbers: a reader judges them against the core count.

    No label such as "idle": the run itself adds its own threads, and a 1-minute average lags."""
    start, end, cores = provenance.get("loadavg_start"), provenance.get("loadavg_end"), provenance.get("cpu_count")
    if not start or not cores:
        return "load not recorded"
    note = (f"load average before the run {start[0]:.2f} (1 min), {start[1]:.2f} (5 min), "
            f"{start[2]:.2f} (15 min) on {cores} cores")
    return note + (f"; {end[0]:.2f} (1 min) after it" if end else "")
