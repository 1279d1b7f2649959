"""Benchmark evaluation: loaders, prompts, answer extraction, sandboxed scoring, pass@k.

Decontamination against the benchmarks is a data filter in ``xinstruct.data.decontam``.

See docs/eval.md; the CLI is ``xinstruct eval`` (``eval.cli``).
"""
