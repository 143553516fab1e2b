"""Keeping freed memory for reuse, as ps_server does for itself.

Every value received from the server arrives in memory gRPC allocates for
it, and is freed once used. glibc's defaults hand large freed blocks back
to the kernel at once, so the next step's values fault the same memory in
again, a page at a time: with a ResNet-50-sized model (102 MB a step each
way) that fault cost was most of a step here. Fixed thresholds keep freed
blocks up to 32 MiB in the heap, and up to 256 MiB of free memory at each
heap's top, instead.

connect() applies this once per process unless keep_freed_memory=False is
passed: it changes malloc for the whole process, including PyTorch's and
numpy's allocations (which then also reuse memory rather than fault it in
again). It does nothing where the C library is not glibc.
"""

import ctypes
import ctypes.util
import threading

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_MMAP_THRESHOLD_BYTES = 32 << 20  # glibc's largest.
_KEPT_FREE_BYTES = 256 << 20

_lock = threading.Lock()
_applied = None


def keep_freed_memory():
    """Sets glibc's thresholds (once); True when they are in effect."""
    global _applied
    with _lock:
        if _applied is None:
            _applied = _apply()
        return _applied


def _apply():
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD_BYTES)) and \
        bool(mallopt(_M_TRIM_THRESHOLD, _KEPT_FREE_BYTES))
