"""A stand-in Android device for testing the adb path on a machine without a phone.

`install(folder)` writes two executables and returns the environment to run them with:

- `bin/adb`: emulates one device. `devices` lists it (or none, or unauthorized,
  or two, by `FAKE_ADB_STATE`); `push` copies into the device folder;
  `shell` runs the command with `sh` on this machine, with the device's
  paths (`/data/local/tmp`, `/sys/devices/system/cpu`) mapped into the device
  folder and stand-ins of `getprop` and `taskset` first on PATH (`taskset`
  records its mask in `taskset.log`, then runs the command on any core).
- `benchmark_model`: a host stand-in of TFLite's binary. It times the graph
  with the LiteRT interpreter and prints the result lines in the format of a
  recent build (`FAKE_BENCHMARK_FORMAT=new`) or a 2019 one (`old`); with
  `FAKE_BENCHMARK_CRASH=1` it dies like a segfault. With
  `FAKE_SLOW_KERNEL7_US=X` the device runs 7x7 depthwise convolutions slowly:
  each adds X microseconds per 1000 output elements to every timing, the
  rest runs at the host's speed (a slowdown that is not one global factor).
- `FAKE_ADB_DISCONNECT_AFTER=N`: after N `adb push` and `adb shell` commands
  the device is gone (`adb devices` lists none, and the rest fail as for an
  unplugged phone).

It says it is a stand-in: `getprop ro.product.model` is `tfnas stand-in device`.
"""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

SERIAL = "FAKE0001"
MODEL = "tfnas stand-in device"
PROPERTIES = {
    "ro.product.model": MODEL,
    "ro.product.manufacturer": "tfnas",
    "ro.soc.model": "SM-STANDIN",
    "ro.build.version.release": "14",
}
# Four slow and four fast cores, like a big.LITTLE phone.
MAX_FREQ_KHZ = [1_804_800] * 4 + [2_419_200] * 4
DEVICE_PATHS = ("/data/local/tmp", "/sys/devices/system/cpu")
TESTS = Path(__file__).resolve().parent


def install(folder: Path, state: str = "device", output_format: str = "new") -> dict[str, str]:
    """Creates the device under `folder`; returns os.environ with the stand-in adb first on PATH."""
    root = folder / "device"
    (root / "data" / "local" / "tmp").mkdir(parents=True)
    tools = root / "bin"
    tools.mkdir()
    for core, freq in enumerate(MAX_FREQ_KHZ):
        cpufreq = root / "sys" / "devices" / "system" / "cpu" / f"cpu{core}" / "cpufreq"
        cpufreq.mkdir(parents=True)
        (cpufreq / "cpuinfo_max_freq").write_text(f"{freq}\n")
        (cpufreq / "scaling_governor").write_text("schedutil\n")
    cases = "".join(f'  {name}) echo "{value}" ;;\n' for name, value in PROPERTIES.items())
    _script(tools / "getprop", f'#!/bin/sh\ncase "$1" in\n{cases}  *) echo "" ;;\nesac\n')
    _script(tools / "taskset", f'#!/bin/sh\necho "$1" >> "{root}/taskset.log"\nshift\nexec "$@"\n')
    host_bin = folder / "host_bin"
    host_bin.mkdir()
    _python_script(host_bin / "adb", "adb_main")
    _python_script(folder / "benchmark_model", "benchmark_model_main")
    return os.environ | {
        "PATH": f"{host_bin}{os.pathsep}{os.environ['PATH']}",
        "FAKE_ADB_ROOT": str(root),
        "FAKE_ADB_STATE": state,
        "FAKE_BENCHMARK_FORMAT": output_format,
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }


def _script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def _python_script(path: Path, function: str) -> None:
    _script(
        path,
        f"#!{sys.executable}\nimport sys\nsys.path.insert(0, {str(TESTS)!r})\n"
        f"import fake_android\nsys.exit(fake_android.{function}(sys.argv[1:]))\n",
    )


def _on_host(text: str, root: str) -> str:
    for path in DEVICE_PATHS:
        text = text.replace(path, root + path)
    return text


def _disconnected(root: str, count: bool) -> bool:
    """Whether `FAKE_ADB_DISCONNECT_AFTER` push and shell commands have run (counting this one)."""
    limit = os.environ.get("FAKE_ADB_DISCONNECT_AFTER")
    if limit is None:
        return False
    count_file = Path(root) / "command_count"
    done = int(count_file.read_text()) if count_file.exists() else 0
    if count:
        count_file.write_text(str(done + 1))
    return done >= int(limit)


def adb_main(argv: list[str]) -> int:
    """The stand-in `adb`."""
    root = os.environ["FAKE_ADB_ROOT"]
    state = os.environ.get("FAKE_ADB_STATE", "device")
    if argv[:1] == ["-s"]:
        serial, argv = argv[1], argv[2:]
        if serial != SERIAL:
            print(f"adb: device '{serial}' not found", file=sys.stderr)
            return 1
    command, args = argv[0], argv[1:]
    if command in ("push", "shell") and _disconnected(root, count=True):
        print(f"adb: device '{SERIAL}' not found", file=sys.stderr)
        return 1
    if command == "devices":
        print("List of devices attached")
        if _disconnected(root, count=False):
            pass
        elif state in ("device", "unauthorized"):
            print(f"{SERIAL}\t{state}")
        elif state == "two":
            print(f"{SERIAL}\tdevice\nFAKE0002\tdevice")
        print()
        return 0
    if command == "push":
        local, remote = args
        target = Path(_on_host(remote, root))
        if target.is_dir():
            target = target / Path(local).name
        shutil.copyfile(local, target)
        shutil.copymode(local, target)
        print(f"{local}: 1 file pushed, 0 skipped.")
        return 0
    if command == "shell":
        environment = os.environ | {"PATH": f"{root}/bin{os.pathsep}{os.environ['PATH']}"}
        script = _on_host(" ".join(args), root)
        return subprocess.run(["sh", "-c", script], env=environment).returncode
    print(f"adb: unknown command {command}", file=sys.stderr)
    return 1


def benchmark_model_main(argv: list[str]) -> int:
    """The stand-in `benchmark_model`: times --graph on this machine, prints TFLite's lines."""
    import numpy as np
    from ai_edge_litert.interpreter import Interpreter

    flags = dict(arg[2:].split("=", 1) for arg in argv if arg.startswith("--") and "=" in arg)
    print("STARTING!")
    print(f"Graph: [{flags['graph']}]")
    print(f"Num threads: [{flags.get('num_threads', '1')}]")
    if os.environ.get("FAKE_BENCHMARK_CRASH") == "1":
        print("Loaded model", flags["graph"])
        print("Segmentation fault", file=sys.stderr)
        return 139
    began = time.perf_counter()
    interpreter = Interpreter(model_path=flags["graph"], num_threads=int(flags["num_threads"]))
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    init_us = (time.perf_counter() - began) * 1e6

    def timed(count: int) -> list[float]:
        times = []
        for _ in range(count):
            start = time.perf_counter()
            interpreter.invoke()
            times.append((time.perf_counter() - start) * 1e6)
        return times

    slow_us = _kernel7_delay_us(interpreter, float(os.environ.get("FAKE_SLOW_KERNEL7_US", "0")))
    warmup = [t + slow_us for t in timed(max(int(flags.get("warmup_runs", "1")), 1))]
    runs = [t + slow_us for t in timed(max(int(flags.get("num_runs", "50")), 1))]
    new = os.environ.get("FAKE_BENCHMARK_FORMAT", "new") == "new"
    prefix = "INFO: " if new else ""

    def percentiles(times: list[float]) -> str:
        if not new:  # older builds print no percentiles
            return ""
        ordered = sorted(times)
        p5, p95 = ordered[int(0.05 * (len(ordered) - 1))], ordered[int(0.95 * (len(ordered) - 1))]
        return f" p5={p5:.0f} median={statistics.median(times):.0f} p95={p95:.0f}"

    print(f"{prefix}Initialized session in {init_us / 1000:.3f}ms.")
    print(f"{prefix}count={len(warmup)} curr={warmup[-1]:.0f}{percentiles(warmup)}")
    print()
    print(
        f"{prefix}count={len(runs)} first={runs[0]:.0f} curr={runs[-1]:.0f} "
        f"min={min(runs):.0f} max={max(runs):.0f} avg={statistics.fmean(runs):g} "
        f"std={statistics.pstdev(runs):.0f}{percentiles(runs)}"
    )
    print()
    print(
        f"{prefix}Inference timings in us: Init: {init_us:.0f}, First inference: "
        f"{warmup[0]:.0f}, Warmup (avg): {statistics.fmean(warmup):g}, "
        f"Inference (avg): {statistics.fmean(runs):g}"
    )
    return 0


def _kernel7_delay_us(interpreter, us_per_thousand: float) -> float:
    """The stand-in's extra time for the 7x7 depthwise convolutions of a graph (microseconds)."""
    if not us_per_thousand:
        return 0.0
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    delay = 0.0
    for op in interpreter._get_ops_details():
        if op["op_name"] != "DEPTHWISE_CONV_2D":
            continue
        kernel = tensors[op["inputs"][1]]["shape"]  # (1, height, width, channels)
        if tuple(kernel[1:3]) == (7, 7):
            delay += us_per_thousand * tensors[op["outputs"][0]]["shape"].prod() / 1000
    return delay
