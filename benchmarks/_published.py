"""Published figures the benchmark scripts print beside their measurements."""

# Qwen2.5-Coder-0.5B-Instruct, Qwen2.5-Coder technical report (arXiv:2409.12186v3): Table 16
# (HumanEval, HumanEval+, MBPP+) and Table 17 ("instruct format MultiPL-E"; no Go or Rust column).
PUBLISHED = {
    "humaneval": 61.6,
    "humaneval+": 57.3,
    "mbpp+": 43.7,
    "multipl-e:java": 46.2,
    "multipl-e:cpp": 43.5,
    "multipl-e:csharp": 62.7,
    "multipl-e:typescript": 50.3,
    "multipl-e:javascript": 50.3,
    "multipl-e:php": 52.8,
    "multipl-e:bash": 27.8,
}
