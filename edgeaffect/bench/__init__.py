"""The benchmark suite behind `edgeaffect bench` (issue #7): every model x
backend x precision x batch, the machine's measured ceilings, the native
kernels beside their peers; JSON, a Markdown report and plots.

Example:
    >>> from edgeaffect.bench import BenchConfig, run_suite, write_outputs       # doctest: +SKIP
    >>> result = run_suite(BenchConfig.quick_config(models=("fer",)))             # doctest: +SKIP
    >>> write_outputs(result, "bench-results")["markdown"]                        # doctest: +SKIP
    PosixPath('bench-results/bench-xeon-2c-x86_64.md')
"""

from .report import compare, write_outputs
from .suite import BenchConfig, run_suite

__all__ = ["BenchConfig", "compare", "run_suite", "write_outputs"]
