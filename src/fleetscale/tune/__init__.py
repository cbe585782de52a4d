"""``fleetscale tune``: the cheapest settings of a pool's policy family that meet a service
objective on its history, searched in parallel (local processes or a Dask cluster)."""
