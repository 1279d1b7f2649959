"""Stage-independent building blocks: records, steps, config, run directories, caching."""
