"""A stand-in Android device for testing the adb path on a machine without a phone.

`install(folder)` writes two executables and returns the environment to run them with:

- `bin/adb`: emulates one device. `devices` lists it (or none, or unauthorized,
  or two, by `FAKE_ADB_STATE`); `push` copies into the device folder;
  `shell` runs the command with `sh` on this machine, with the device's
  paths (`/data/local/tmp`, `/sys/devices/system/cpu`) mapped into the device
  folder and stand-ins of `getprop` and `taskset` first on PATH (`taskset`
  records its mask in `taskset.log`, then runs the command on any core).
- `benchmark_model`: a host stand-in of TFLite's binary. It loads --graph
  with the LiteRT interpreter and prints the result lines in the format of a
  recent build (`FAKE_BENCHMARK_FORMAT=new`) or a 2019 one (`old`); with
  `FAKE_BENCHMARK_CRASH=1` it dies like a segfault.

Its clock is simulated (`FAKE_CLOCK=simulated`, the default), so that what a
test sees does not depend on this machine's speed or load: a run of a graph
takes `simulated_run_us` of it, a sum over its ops of a fixed cost per op, per
multiply-accumulate and per output element, plus a fixed cost per run. Each
run is then off by seeded noise: `FAKE_NOISE` (relative standard deviation of
one run, default 0.02) and `FAKE_PASS_NOISE` (one factor shared by every run
of one `benchmark_model` call, a device busy for the whole call; default 0).
The seed is the graph (its ops and shapes, not its weights) and the number of
calls so far, so a test's timings repeat exactly. `FAKE_CLOCK=host` times the
graph on this machine's wall clock instead (the marked `timing` tests).

With `FAKE_SLOW_KERNEL7_US=X` the device runs 7x7 depthwise convolutions
slowly: each adds X microseconds per 1000 output elements to every run (a
slowdown that is not one global factor). `FAKE_ADB_DISCONNECT_AFTER=N`: after
N `adb push` and `adb shell` commands the device is gone (`adb devices` lists
none, and the rest fail as for an unplugged phone).

It says it is a stand-in: `getprop ro.product.model` is `tfnas stand-in device`.
"""

from __future__ import annotations

import hashlib
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
# The simulated clock, in microseconds: a phone core of about 2 GMAC/s in float32.
US_PER_RUN = 20.0  # invoking the graph once
US_PER_OP = 2.0  # dispatching one op
US_PER_MAC = 0.0005
US_PER_OUTPUT = 0.0002  # writing one output element
DEFAULT_NOISE = 0.02
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
    """The stand-in `benchmark_model`: times --graph (simulated clock), prints TFLite's lines."""
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
    model = Path(flags["graph"]).read_bytes()
    began = time.perf_counter()
    interpreter = Interpreter(model_content=model, num_threads=int(flags["num_threads"]))
    interpreter.allocate_tensors()
    for detail in interpreter.get_input_details():
        interpreter.set_tensor(detail["index"], np.zeros(detail["shape"], detail["dtype"]))
    warmup_count = max(int(flags.get("warmup_runs", "1")), 1)
    count = max(int(flags.get("num_runs", "50")), 1)
    slow_us = float(os.environ.get("FAKE_SLOW_KERNEL7_US", "0"))
    if os.environ.get("FAKE_CLOCK", "simulated") == "host":
        init_us = (time.perf_counter() - began) * 1e6
        delay = _kernel7_delay_us(interpreter, slow_us)
        warmup = [t + delay for t in _host_times(interpreter, warmup_count)]
        runs = [t + delay for t in _host_times(interpreter, count)]
    else:
        init_us = 1000.0 + len(model) / 1000  # loading: a fixed cost and one per kilobyte
        times = _simulated_times(interpreter, slow_us, warmup_count + count)
        warmup, runs = times[:warmup_count], times[warmup_count:]
    _print_result(init_us, warmup, runs, os.environ.get("FAKE_BENCHMARK_FORMAT", "new") == "new")
    return 0


def _host_times(interpreter, count: int) -> list[float]:
    """`count` runs of the graph on this machine's wall clock (microseconds)."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        interpreter.invoke()
        times.append((time.perf_counter() - start) * 1e6)
    return times


def _simulated_times(interpreter, slow_us: float, count: int) -> list[float]:
    """`count` runs of the simulated clock: the graph's time, off by the seeded noise."""
    import numpy as np

    interpreter.invoke()  # the graph runs, as on a device; only the clock is simulated
    call = _next_call()
    graph = hashlib.sha256(_graph_text(interpreter).encode()).digest()
    seed = int.from_bytes(graph[:8], "little")
    rng = np.random.default_rng([seed, call])
    noise = float(os.environ.get("FAKE_NOISE", str(DEFAULT_NOISE)))
    pass_noise = float(os.environ.get("FAKE_PASS_NOISE", "0"))
    whole_call = max(1.0 + pass_noise * rng.standard_normal(), 0.1)
    factors = np.maximum(1.0 + noise * rng.standard_normal(count), 0.1)
    return list(simulated_run_us(interpreter, slow_us) * whole_call * factors)


def _graph_text(interpreter) -> str:
    """The graph's ops and tensor shapes: the same for every conversion of one network.

    The noise is seeded by it, not by the file's bytes, which hold the weights
    (random in the tests' key models, so the bytes differ from run to run).
    """
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    lines = []
    for op in interpreter._get_ops_details():
        indices = [i for i in [*op["inputs"], *op["outputs"]] if i >= 0]
        shapes = [str(tensors[i]["shape"].tolist()) for i in indices]
        lines.append(" ".join([op["op_name"], *shapes]))
    return "\n".join(lines)


def _next_call() -> int:
    """How many simulated calls came before this one on this device (0 without a device)."""
    root = os.environ.get("FAKE_ADB_ROOT")
    if root is None:
        return 0
    counter = Path(root) / "benchmark_calls"
    done = int(counter.read_text()) if counter.exists() else 0
    counter.write_text(str(done + 1))
    return done


def simulated_run_us(interpreter, slow_kernel7_us: float = 0.0) -> float:
    """One noise-free run of an allocated interpreter's graph on the simulated clock (us).

    A fixed cost per run, and per op a fixed cost, one per multiply-accumulate of
    the convolutions and fully connected layers, and one per output element;
    7x7 depthwise convolutions add `slow_kernel7_us` per 1000 output elements.
    """
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    total = US_PER_RUN
    for op in interpreter._get_ops_details():
        outputs = sum(int(tensors[i]["shape"].prod()) for i in op["outputs"] if i >= 0)
        total += US_PER_OP + US_PER_OUTPUT * outputs + US_PER_MAC * _macs(op, tensors, outputs)
    return float(total + _kernel7_delay_us(interpreter, slow_kernel7_us))


def simulated_model_us(flatbuffer: bytes, slow_kernel7_us: float = 0.0) -> float:
    """`simulated_run_us` of a TFLite flatbuffer: what the stand-in reports without noise."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer, num_threads=1)
    interpreter.allocate_tensors()
    return simulated_run_us(interpreter, slow_kernel7_us)


def _macs(op: dict, tensors: dict, outputs: int) -> int:
    """Multiply-accumulates of a convolution or fully connected op (0 for any other op)."""
    name = op["op_name"]
    if name not in ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED"):
        return 0
    weights = tensors[op["inputs"][1]]["shape"]  # (out, kh, kw, in) / (1, kh, kw, c) / (out, in)
    if name == "CONV_2D":
        return outputs * int(weights[1:].prod())
    if name == "DEPTHWISE_CONV_2D":
        return outputs * int(weights[1] * weights[2])
    return outputs * int(weights[-1])


def _print_result(init_us: float, warmup: list[float], runs: list[float], new: bool) -> None:
    """The result lines of benchmark_model, as a recent build (`new`) or a 2019 one prints them."""
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
