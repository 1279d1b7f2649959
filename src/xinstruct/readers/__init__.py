"""Corpus readers: instruction datasets and code corpora in, Records out.

Bad input never stops a run silently: each unusable line or file is logged with its file and
line in a :class:`~xinstruct.core.pipeline.SkipLog` and counted by reason; an input that yields
no record at all is an error, not an empty dataset.
"""

from xinstruct.readers.config import ReaderConfig
from xinstruct.readers.dispatch import read_input

__all__ = ["ReaderConfig", "read_input"]
