"""Benchmark evaluation: loaders, prompts, answer extraction, sandboxed scoring, pass@k, decontamination.

See docs/eval.md; the CLI is ``xinstruct eval`` (``eval.cli``).
"""
