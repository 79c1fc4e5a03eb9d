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
    check_address,
    check_client,
    connect,
    n_workers,
    run_tasks,
    storage_is_shared,
)

__all__ = ["CONNECT_TIMEOUT_S", "PROBE_PREFIX", "check_address", "check_client", "connect",
           "n_workers", "run_tasks", "storage_is_shared"]
