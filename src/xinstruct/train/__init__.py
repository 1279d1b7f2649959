"""Fine-tuning on generated instruction data: SFT (two-stage curriculum) and DPO, LoRA by default.

Heavy libraries (torch, transformers, trl, peft) are imported inside functions so that
``xinstruct --help`` and the data-generation stages never pay for them.
"""

from __future__ import annotations

HF_HINT = "pip install 'xinstruct[hf]'"


def require_hf() -> None:
    """Fail early with the install command when the Hugging Face stack is missing."""
    from xinstruct.core.errors import XInstructError

    missing = []
    for name in ("torch", "transformers", "trl", "peft", "datasets"):
        try:
            __import__(name)
        except ImportError:
            missing.append(name)
    if missing:
        raise XInstructError(f"training needs {', '.join(missing)}: {HF_HINT}")
