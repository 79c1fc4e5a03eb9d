"""Dask clusters for generation, sweeps and probes (the optional `dask` extra).

Examples
--------
>>> from synth import cluster
>>> cluster.check_address("local:4")
('local', 4)
"""

from ._cluster import (
    CONNECT_TIMEOUT_S,
    PROBE_PREFIX,
    STACK,
    check_address,
    check_client,
    check_stack,
    connect,
    n_workers,
    run_tasks,
    software_stack,
    stack_mismatch,
    storage_is_shared,
)

__all__ = ["CONNECT_TIMEOUT_S", "PROBE_PREFIX", "STACK", "check_address", "check_client",
           "check_stack", "connect", "n_workers", "run_tasks", "software_stack",
           "stack_mismatch", "storage_is_shared"]
