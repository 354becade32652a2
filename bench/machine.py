"""What else the machine was doing during a benchmark: load average and the CPU time other
processes took, from /proc/stat (Linux; elsewhere only what os offers). On a shared
development machine a number means little without these."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field


def _busy_jiffies() -> tuple[int, int] | None:
    """(busy, total) jiffies of all CPUs since boot, or None off Linux."""
    try:
        with open("/proc/stat") as fh:
            parts = fh.readline().split()
    except OSError:
        return None
    if not parts or parts[0] != "cpu":
        return None
    values = [int(v) for v in parts[1:]]
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def _own_cpu_s() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


@dataclass
class MachineLoad:
    """``with MachineLoad() as load: ...`` then ``load.summary()``."""

    start: dict = field(default_factory=dict)
    summary_: dict = field(default_factory=dict)

    def __enter__(self) -> "MachineLoad":
        self.start = {"wall": time.perf_counter(), "jiffies": _busy_jiffies(), "own": _own_cpu_s(),
                      "load": os.getloadavg()[0] if hasattr(os, "getloadavg") else None}
        return self

    def __exit__(self, *exc) -> None:
        wall = time.perf_counter() - self.start["wall"]
        own = _own_cpu_s() - self.start["own"]
        out = {"cpus": os.cpu_count(), "seconds": round(wall, 1), "load_start": self.start["load"],
               "load_end": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
               "this_process_cpus": round(own / wall, 2) if wall > 0 else None}
        end, begin = _busy_jiffies(), self.start["jiffies"]
        if end and begin and end[1] > begin[1]:
            ticks = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
            busy_s = (end[0] - begin[0]) / ticks
            # What the rest of the machine kept busy meanwhile, in CPUs (0 = idle, cpus = full).
            out["other_processes_cpus"] = round(max(0.0, busy_s - own) / wall, 2)
        for k in ("load_start", "load_end"):
            if out[k] is not None:
                out[k] = round(out[k], 2)
        self.summary_ = out

    def summary(self) -> dict:
        return dict(self.summary_)

    @staticmethod
    def describe(s: dict) -> str:
        text = (f"{s['cpus']} CPUs, load average {s['load_start']} at the start and {s['load_end']} at the end"
                f" of {s['seconds']} s")
        if "other_processes_cpus" in s:
            text += f"; other processes kept {s['other_processes_cpus']} CPUs busy meanwhile"
        return text
