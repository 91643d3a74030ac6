"""Peak resident memory of a block of work: Linux ``VmHWM`` reset through ``/proc/self/clear_refs``.

``peak_rss()`` yields a dict filled on exit with ``peak_delta_mib`` = peak RSS during the block minus
RSS at its start (``start_mib``), ``peak_mib``, and ``method`` saying how it was measured. Where the peak cannot be reset it falls
back to ``resource.getrusage`` maxrss deltas (which only see growth beyond the process's earlier peak).
"""

from __future__ import annotations

import resource
from contextlib import contextmanager


def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


@contextmanager
def peak_rss():
    out: dict = {}
    if _reset_peak() and _status_kib("VmRSS") is not None:
        start = _status_kib("VmRSS")
        yield out
        peak = _status_kib("VmHWM")
        out.update(peak_delta_mib=(peak - start) / 1024, peak_mib=peak / 1024, start_mib=start / 1024,
                   method="VmHWM after /proc/self/clear_refs reset, minus VmRSS at start")
        return
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    yield out
    end = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out.update(peak_delta_mib=(end - start) / 1024, peak_mib=end / 1024, start_mib=start / 1024,
               method="resource.getrusage maxrss delta (lower bound: growth beyond the earlier peak only)")
