"""Multi-agent multilingual instruction generation (xCoder, ACL 2025), execution-verified.

One agent per language (profile, evolution operations, bounded generation memory, reflection)
turns seed code into tasks; each round the agents collaborate (``centralized`` or ``parallel``)
on new tasks whose solutions must pass their own unit tests in the sandbox. See docs/agents.md.
"""
