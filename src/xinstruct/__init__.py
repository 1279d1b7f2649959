"""xinstruct: let a code LLM improve itself with execution-verified, multilingual instruction data."""

__version__ = "0.1.0"
