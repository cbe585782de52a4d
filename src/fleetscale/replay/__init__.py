"""``fleetscale replay``: a pool's recorded cycles run again through ``cycle.step``
(reproduction) and its recorded load through the simulator (counterfactual)."""
