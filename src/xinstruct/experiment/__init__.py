"""End-to-end experiments: the InverseCoder loop (data -> SFT arms -> export -> eval) as one resumable command.

``xinstruct experiment CONFIG --out DIR``; configs live in ``configs/experiments/`` (see docs/training.md).
"""
