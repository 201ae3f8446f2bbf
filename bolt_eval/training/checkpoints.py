"""Checkpoint folders as trainers write them: which are complete, their step, their
fingerprint, and a LoRA adapter merged into its base so it is served like a full model.

A checkpoint is a folder with `config.json` and model weights (transformers, trl, Axolotl,
OpenRLHF, verl's `huggingface/` export) or with `adapter_config.json` and adapter weights
(peft). It is complete when every weight file it announces is fully written:

- each `.safetensors` file is as long as its own header says (8-byte length, JSON header,
  then the tensors up to the largest end offset), so a file still being written is caught
  without waiting;
- every shard an index (`*.index.json`) lists is present;
- trainers that write `trainer_state.json` (transformers' Trainer and trl) write it last;
  without it, the folder's files must be unchanged (names, sizes, mtimes) across two polls.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import struct
import sys
from pathlib import Path

from bolt_eval.models import weights_fingerprint
from bolt_eval.types import UserError

MODEL_WEIGHTS = re.compile(r"^(model|pytorch_model|adapter_model|consolidated)([-.].*)?\.(safetensors|bin)$")
MERGED_PREFIX = "merged-"
_STEP = re.compile(r"(?:checkpoint|global_step|step|iter)[-_]?(\d+)$", re.IGNORECASE)


def weight_files(folder: Path) -> list[Path]:
    """The model's own weight files (not optimizer, scheduler or training-args files)."""
    return sorted(p for p in folder.iterdir() if p.is_file() and MODEL_WEIGHTS.match(p.name))


def is_lora(folder: Path) -> bool:
    return (folder / "adapter_config.json").is_file()


def is_checkpoint(folder: Path) -> bool:
    """Looks like a model folder (complete or not)."""
    if folder.name.startswith((MERGED_PREFIX, ".")) or not folder.is_dir():
        return False
    return ((folder / "config.json").is_file() or is_lora(folder)) and bool(weight_files(folder))


def last_checkpoint(folder: Path) -> Path | None:
    """The newest trainer checkpoint (`checkpoint-N`) whose trainer_state.json, which
    transformers' Trainer writes last, is there: a trainer killed while saving leaves a
    folder without it (transformers' `get_last_checkpoint` would pick that one)."""
    done = [p for p in folder.glob("checkpoint-*") if is_checkpoint(p) and (p / "trainer_state.json").is_file()]
    return max(done, key=lambda p: step_of(p) or 0, default=None)


def fingerprint(folder: str | Path) -> str:
    """The checkpoint's identity: `models.weights_fingerprint` of each model weight file,
    so a trainer's checkpoint and the same weights saved as `final/` share it."""
    root = Path(folder)
    files = weight_files(root) if root.is_dir() else [root]
    if not files:
        raise UserError(f"{root}: no model weights (model*.safetensors, pytorch_model*.bin or adapter_model.*)")
    h = hashlib.sha256()
    for f in files:
        h.update(f"{f.name}:{weights_fingerprint(f)}\n".encode())
    return h.hexdigest()


def step_of(folder: Path) -> int | None:
    """The training step in the folder's name (checkpoint-120, global_step_120, step_120,
    iter-2), looking up to two parents (verl: global_step_120/actor/huggingface)."""
    for part in (folder, folder.parent, folder.parent.parent):
        m = _STEP.search(part.name)
        if m:
            return int(m.group(1))
    return None


def snapshot(folder: Path) -> tuple[tuple[str, int, int], ...]:
    """Names, sizes and mtimes of the folder's files: equal across two polls means still."""
    out = []
    for p in sorted(folder.iterdir()):
        if p.is_file():
            st = p.stat()
            out.append((p.name, st.st_size, st.st_mtime_ns))
    return tuple(out)


def incomplete_reason(folder: Path) -> str | None:
    """Why the checkpoint is not complete yet, or None when it is (apart from stillness,
    which the caller judges across polls unless `trainer_state.json` is there)."""
    for f in weight_files(folder):
        if f.suffix == ".safetensors" and not _safetensors_complete(f):
            return f"{f.name} is still being written"
    for index in folder.glob("*.index.json"):
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (json.JSONDecodeError, KeyError, OSError):
            return f"{index.name} is not readable yet"
        missing = sorted(s for s in shards if not (folder / s).is_file())
        if missing:
            return f"shards missing: {', '.join(missing[:3])}"
    return None


def _safetensors_complete(path: Path) -> bool:
    size = path.stat().st_size
    if size < 8:
        return False
    with open(path, "rb") as fh:
        (n,) = struct.unpack("<Q", fh.read(8))
        if 8 + n > size:
            return False
        try:
            header = json.loads(fh.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError):
            return False
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
    return size >= 8 + n + max(ends, default=0)


def merged_folder(adapter: Path) -> Path:
    return adapter.parent / f"{MERGED_PREFIX}{adapter.name}"


def merge_lora(adapter: Path, base: str | None = None) -> Path:
    """The adapter merged into its base (peft `merge_and_unload`), saved once beside it as
    `merged-<name>/` with the tokenizer: the model a user serves (hf or vLLM)."""
    target = merged_folder(adapter)
    if (target / "config.json").is_file():
        return target
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    base = base or config.get("base_model_name_or_path")
    if not base:
        raise UserError(f"{adapter}/adapter_config.json names no base model; pass the base model explicitly")
    try:
        model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.float32)
    except OSError as err:
        raise UserError(f"{adapter}: its base model {base!r} cannot be loaded ({err}); "
                        "make it available locally or pass --base-model") from err
    merged = PeftModel.from_pretrained(model, str(adapter)).merge_and_unload()
    tokenizer_from = adapter if (adapter / "tokenizer_config.json").is_file() else Path(base)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp)
    AutoTokenizer.from_pretrained(str(tokenizer_from)).save_pretrained(tmp)
    os.replace(tmp, target)
    print(f"bolt-eval: merged LoRA adapter {adapter} into {target}", file=sys.stderr, flush=True)
    return target
