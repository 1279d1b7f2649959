"""Sandboxed multi-language code execution: untrusted code in, a verdict out.

    from xinstruct.sandbox import Job, Limits, Sandbox

    sb = Sandbox()
    r = sb.run(Job("python", "def f(): return 1", tests="assert f() == 1"))
    r.verdict            # Verdict.PASSED; r.to_dict() for JSON
    for i, r in sb.run_many(jobs, concurrency=None):   # streams (index, Result) as jobs finish
        ...

``Job(language, code, tests=None, stdin="", limits=Limits(...), files={})``: ``language`` is any
name or alias (py, js, ts, c++, cs, sh, rb…); ``tests`` is appended per language (see
``languages.py``); ``files`` adds extra files to the work dir. Verdicts: passed, failed,
compile_error, runtime_error, timeout, memory_exceeded, output_limit, unavailable, sandbox_error.
``available_languages()`` / ``language_info()`` report the installed toolchains.
"""

from xinstruct.sandbox.jobs import Job, Limits, Result, Verdict
from xinstruct.sandbox.languages import LANGUAGES, Language, get_language
from xinstruct.sandbox.runner import Sandbox, available_languages, language_info

__all__ = [
    "LANGUAGES",
    "Job",
    "Language",
    "Limits",
    "Result",
    "Sandbox",
    "Verdict",
    "available_languages",
    "get_language",
    "language_info",
]
