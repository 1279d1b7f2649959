"""Running a stage's units on a Ray cluster (Ray Data) instead of one process.

The driver still reads, extracts and checks the run directory; actors run the same steps as a
local run, one backend per actor; the driver assembles the outputs with the local run's code.
Ray is imported only here and only when ``--executor ray`` is chosen (the ``ray`` extra).
"""
