"""Child process of `edgeaffect bench`: cold start and peak memory of one
deployment, measured in a fresh interpreter so nothing is already imported,
loaded or cached in memory.

Run as `python -m edgeaffect.bench.coldstart JSON` where JSON holds target
(a model name or artifact path), backend, precision, threads, batches and
spawn_time (the parent's time.time() just before it started this process).
Prints one JSON line: seconds from spawn to the first result and from
load() to the first result, and the peak resident memory after each batch
size (the high-water mark, which only grows: a batch's figure includes the
smaller batches before it).
"""

import time

# `python -m` imports the edgeaffect package before this line runs, so
# start_s below covers interpreter start-up and that import.
_STARTED = time.time()

import json  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402


def peak_rss_mb() -> float:
    """This process's peak resident memory. On Linux, VmHWM of /proc/self/status:
    ru_maxrss would include the parent's memory at fork time."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024  # macOS reports bytes, others KiB


def main(argv: list[str]) -> int:
    request = json.loads(argv[0])
    import numpy as np

    import edgeaffect
    from edgeaffect.bench.inputs import sample_batch

    imported = time.time()
    predictor = edgeaffect.load(request["target"], backend=request["backend"], precision=request["precision"],
                                threads=request["threads"])
    loaded = time.time()
    rng = np.random.default_rng(0)
    predictor.predict(sample_batch(predictor, 1, rng))
    first = time.time()
    memory = {}
    for batch in request["batches"]:
        x = sample_batch(predictor, batch, rng)
        for _ in range(3):
            predictor.predict(x)
        memory[str(batch)] = peak_rss_mb()
    predictor.close()
    print(json.dumps({
        "start_s": _STARTED - request["spawn_time"],
        "load_s": loaded - imported,
        "load_to_first_result_s": first - imported,
        "process_to_first_result_s": first - request["spawn_time"],
        "peak_rss_mb": memory,
        "package": edgeaffect.__file__,
    }))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
