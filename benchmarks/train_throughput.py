"""Training throughput: ``xinstruct train sft`` against a plain TRL script, same rows and settings.

Both train LoRA (same rank, targets, lr, batch, steps, seed) on the same synthetic rows; each step
sees every row once (rows = batch size x accumulation), so tokens/s = steps x tokens per pass /
train seconds. ``xinstruct`` runs through its real CLI in a subprocess; the plain script is the
minimal TRL recipe (conversational dataset, SFTTrainer tokenizes; Qwen2.5's template has no
generation markers, so it trains on all tokens: same tokens per step, different loss mask).

    .venv/bin/python benchmarks/train_throughput.py                 # embedded GGUF model
    .venv/bin/python benchmarks/train_throughput.py --base tiny --steps 5   # seconds, not minutes
    .venv/bin/python benchmarks/train_throughput.py --dtype float32,bfloat16 --repeat 2   # dtypes interleaved

With several dtypes (``--dtype``) and ``--repeat``, the runs alternate (dtype by dtype, runner by
runner, then again), so a noisy shared machine loads every configuration alike; the table gives each
run and the ratio of every dtype's tokens/s to the first dtype's, per runner.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def make_rows(n: int) -> list[dict]:
    rows = []
    for i in range(n):
        body = "\n".join(f"    total += values[{j}] * {i + j}" for j in range(6))
        rows.append({"messages": [
            {"role": "user", "content": f"Write a Python function weighted_{i}(values) returning a weighted sum."},
            {"role": "assistant", "content": f"```python\ndef weighted_{i}(values):\n    total = 0\n{body}\n"
                                             "    return total\n```"},
        ]})
    return rows


def run_xinstruct(data: Path, out: Path, a: argparse.Namespace, dtype: str) -> dict:
    cmd = [sys.executable, "-m", "xinstruct", "train", "sft", str(data), "--out", str(out),
           "--curriculum", "mixed", "--max-steps", str(a.steps), "--batch-size", str(a.batch_size),
           "--grad-accum", str(a.grad_accum), "--max-length", str(a.max_length), "--lora-r", str(a.lora_r),
           "--learning-rate", "1e-4", "--warmup-ratio", "0", "--save-steps", "10000", "--seed", "0",
           "--dtype", dtype]
    if a.base:
        cmd += ["--base", a.base]
    if a.threads:
        cmd += ["--threads", str(a.threads)]
    started = time.perf_counter()
    subprocess.run(cmd, check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    (stage,) = json.loads((out / "model_card.json").read_text())["stages"]
    return {"train_s": stage["seconds"], "wall_s": wall, "tokens_per_pass": stage["encode"]["tokens"],
            "steps": stage["steps"], "final_loss": stage["final_loss"]}


PLAIN = r'''
import json, sys, time
import torch
from datasets import Dataset
from peft import LoraConfig
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl import SFTConfig, SFTTrainer
a = json.loads(sys.argv[1])
if a["threads"]:
    torch.set_num_threads(a["threads"])
kw = {"gguf_file": a["gguf_file"]} if a["gguf_file"] else {}
tok = AutoTokenizer.from_pretrained(a["tok_dir"])
model = AutoModelForCausalLM.from_pretrained(a["model_dir"], dtype=getattr(torch, a["dtype"]), **kw)
if a["gguf_file"] and getattr(model, "hf_quantizer", None) is not None:
    # dequantized weights that transformers still marks GGUF: the Trainer refuses a "quantized" model
    model.hf_quantizer.remove_quantization_config(model)
rows = [json.loads(l) for l in open(a["data"])]
targets = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
args = SFTConfig(output_dir=a["out"], max_steps=a["steps"], per_device_train_batch_size=a["batch_size"],
                 gradient_accumulation_steps=a["grad_accum"], learning_rate=1e-4, max_length=a["max_length"],
                 save_steps=10000, report_to="none", seed=0, logging_steps=1, disable_tqdm=True,
                 bf16=a["dtype"] == "bfloat16", use_cpu=not torch.cuda.is_available(),
                 gradient_checkpointing=False)  # TRL turns it on by default; xinstruct's default is off
trainer = SFTTrainer(model=model, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok,
                     peft_config=LoraConfig(r=a["lora_r"], lora_alpha=2 * a["lora_r"], lora_dropout=0.05,
                                            target_modules=targets, task_type="CAUSAL_LM"))
tokens = sum(len(x) for x in trainer.train_dataset["input_ids"])
t = time.perf_counter()
trainer.train()
secs = time.perf_counter() - t
losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
print(json.dumps({"train_s": secs, "tokens_per_pass": tokens, "steps": trainer.state.global_step,
                  "final_loss": losses[-1]}))
'''


def run_plain(data: Path, out: Path, a: argparse.Namespace, dtype: str) -> dict:
    from xinstruct.models import resolve_model
    from xinstruct.models.catalog import models_dir

    ref = resolve_model(a.base)
    if ref.format == "gguf":
        tok_dir = models_dir() / "tokenizers" / ref.sha256[:16]  # converted by the xinstruct run before
        model_dir, gguf_file = str(ref.path.parent), ref.path.name
    else:
        tok_dir, model_dir, gguf_file = ref.path, str(ref.path), None
    params = {"data": str(data), "out": str(out), "steps": a.steps, "batch_size": a.batch_size,
              "grad_accum": a.grad_accum, "max_length": a.max_length, "lora_r": a.lora_r, "threads": a.threads,
              "tok_dir": str(tok_dir), "model_dir": model_dir, "gguf_file": gguf_file, "dtype": dtype}
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", PLAIN, json.dumps(params)], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        raise SystemExit(f"plain TRL script failed:\n{proc.stderr[-3000:]}")
    wall = time.perf_counter() - started
    return {**json.loads(proc.stdout.strip().splitlines()[-1]), "wall_s": wall}


def build_tiny(dest: Path) -> Path:
    """A 2-layer, 64-wide random Qwen2 with the embedded model's tokenizer (the tests' tiny model)."""
    sys.path.insert(0, str(ROOT / "tests" / "train"))
    from train_helpers import build_tiny_qwen

    from xinstruct.models import resolve_model
    from xinstruct.train.loading import load_tokenizer

    return build_tiny_qwen(dest, load_tokenizer(resolve_model(None)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--base", help="base model (default: the embedded GGUF; 'tiny': the tests' random 2-layer Qwen2)")
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--grad-accum", type=int, default=1)
    ap.add_argument("--max-length", type=int, default=256)
    ap.add_argument("--lora-r", type=int, default=16)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--dtype", default="float32", help="comma-separated: float32, bfloat16 (run interleaved)")
    ap.add_argument("--repeat", type=int, default=1, help="rounds of every (dtype, runner) pair")
    ap.add_argument("--runners", default="xinstruct,plain", help="comma-separated: xinstruct, plain")
    a = ap.parse_args()
    dtypes = a.dtype.split(",")
    runners = {"xinstruct": ("xinstruct train sft", run_xinstruct), "plain": ("plain TRL SFTTrainer", run_plain)}
    chosen = [runners[r] for r in a.runners.split(",")]
    if chosen[0][1] is run_plain:
        raise SystemExit("--runners: put xinstruct first (it converts the GGUF tokenizer the plain script reads)")
    with tempfile.TemporaryDirectory() as tmp:
        if a.base == "tiny":
            a.base = str(build_tiny(Path(tmp) / "tiny"))
        data = Path(tmp) / "rows.jsonl"
        data.write_text("".join(json.dumps(r) + "\n" for r in make_rows(a.batch_size * a.grad_accum)))
        results: list[tuple[str, str, int, dict]] = []
        for k in range(a.repeat):
            for dtype in dtypes:
                for name, run in chosen:
                    r = run(data, Path(tmp) / f"{name[0]}-{dtype}-{k}", a, dtype)
                    r["tokens_s"] = r["steps"] * r["tokens_per_pass"] / r["train_s"]
                    results.append((name, dtype, k, r))
                    print(f"done: {name} {dtype} round {k}: {r['tokens_s']:.1f} tokens/s", flush=True)
    print(f"\nbase={a.base or 'embedded GGUF'} steps={a.steps} batch={a.batch_size}x{a.grad_accum} "
          f"lora_r={a.lora_r} max_length={a.max_length}\n")
    print(f"| {'runner':<22} | dtype    | round | tokens/step | train s | tokens/s | wall s (incl. load) | final loss |")
    print(f"|{'-' * 24}|----------|-------|-------------|---------|----------|---------------------|------------|")
    for name, dtype, k, r in results:
        print(f"| {name:<22} | {dtype:<8} | {k:>5} | {r['tokens_per_pass']:>11} | {r['train_s']:>7.1f} | "
              f"{r['tokens_s']:>8.1f} | {r['wall_s']:>19.1f} | {r['final_loss']:>10.4f} |")
    if len(dtypes) > 1:
        print(f"\n| {'runner':<22} | dtype    | tokens/s (mean of rounds) | ratio to {dtypes[0]} |")
        print(f"|{'-' * 24}|----------|---------------------------|{'-' * (12 + len(dtypes[0]))}|")
        for name, _ in chosen:
            mean = {d: sum(r["tokens_s"] for n, dd, _, r in results if n == name and dd == d) / a.repeat
                    for d in dtypes}
            for d in dtypes:
                print(f"| {name:<22} | {d:<8} | {mean[d]:>25.1f} | {mean[d] / mean[dtypes[0]]:>{10 + len(dtypes[0])}.2f} |")


if __name__ == "__main__":
    main()
