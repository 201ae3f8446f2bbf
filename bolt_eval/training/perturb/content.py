"""Content perturbations of the assistant turn (Li et al., arXiv 2502.07374, section 4.1).

digits    each number matched by \\b\\d+(\\.\\d+)?\\b anywhere in the assistant turn (thoughts
          and solution, as SkyThought's published script does) is replaced, with probability
          = ratio, by a random integer 0..10; every other character is kept.
keywords  each occurrence of a reflection keyword or phrase (training/perturb/
          reflection-keywords.txt; case-insensitive, whole words, longest phrase first) in the
          thoughts is removed independently with probability = ratio (so the expected share
          removed is the ratio, as for digits). The solution is untouched. What the removal
          leaves is tidied, and only this:
            1. the keyword goes with the punctuation right after it (at a sentence start any
               run of , ; : ! ? . and the ellipsis; mid-sentence one , ; : ! or an ellipsis)
               and the spaces after that;
            2. mid-sentence, when a period, ? or !, a newline or the end follows, the , ; or
               : and spaces before the keyword go too ("right, however." -> "right.");
            3. at a sentence start a lower-case word (two letters or more, so not a variable
               such as x) that now starts the sentence is capitalised ("Wait, let me" ->
               "Let me");
            4. a line left empty is removed with the newlines after it (a paragraph that was
               only "Hmm." disappears; the blank line between its neighbours stays);
            5. the thoughts are stripped at both ends, as the presets read them.
Each number / occurrence draws its random numbers whether or not it is hit, so with one seed
what a smaller ratio changes is a subset of what a larger one changes.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from pathlib import Path

from bolt_eval.training.perturb.rows import Context, Outcome, Turn
from bolt_eval.types import UserError

NUMBER = re.compile(r"\b\d+(\.\d+)?\b")
KEYWORDS_FILE = Path("training/perturb/reflection-keywords.txt")


def digits(turn: Turn, rng: random.Random, ratio: float, ctx: Context) -> Outcome:
    text = turn.text
    matches = list(NUMBER.finditer(text))
    if not matches:
        return Outcome(skip="no numbers")
    out, last, hit = [], 0, 0
    for m in matches:
        draw, value = rng.random(), rng.randint(0, 10)
        if draw < ratio:
            out.append(text[last:m.start()] + str(value))
            last, hit = m.end(), hit + 1
    out.append(text[last:])
    return Outcome("".join(out), counts={"numbers": len(matches), "numbers_replaced": hit})


def keywords_file() -> Path:
    from bolt_eval.training.recipe import REPO_ROOT

    path = REPO_ROOT / KEYWORDS_FILE
    if not path.is_file():
        raise UserError(f"{path}: the reflection keyword list is missing; restore it from the repository")
    return path


@lru_cache(maxsize=1)
def keyword_pattern() -> re.Pattern[str]:
    """The project's reflection keywords as one case-insensitive whole-word pattern."""
    path = keywords_file()
    words = {line.strip().lower() for line in path.read_text(encoding="utf-8").splitlines()
             if line.strip() and not line.lstrip().startswith("#")}
    alts = [r"\s+".join(map(re.escape, w.split())) for w in sorted(words, key=lambda w: (-len(w), w))]
    return re.compile(r"(?<!\w)(?:" + "|".join(alts) + r")(?!\w)", re.IGNORECASE)


_SENTENCE_PUNCT = re.compile(r"[,;:!?.\u2026]*[ \t]*")
_MID_PUNCT = re.compile(r"(?:\.\.\.|\u2026|[,;:!])?[ \t]*")
_WORD = re.compile(r"[^\W\d_]{2,}\b")  # a word of letters, not a variable such as x


def keywords(turn: Turn, rng: random.Random, ratio: float, ctx: Context) -> Outcome:
    text = turn.thoughts
    if not text:
        return Outcome(skip="no thoughts")
    matches = list(keyword_pattern().finditer(text))
    if not matches:
        return Outcome(skip="no keywords")
    parts: list[str] = []  # the output so far, in pieces (joined once: thoughts can be long)
    pos, removed, cap = 0, 0, False
    counts: dict[str, int] = {"keywords": len(matches)}
    for m in matches:
        if rng.random() >= ratio:
            continue
        cap = _append(parts, text[pos:m.start()], cap)
        last = _last_char(parts)
        at_start = last in ("", ".", "!", "?", "\n")
        pos = (_SENTENCE_PUNCT if at_start else _MID_PUNCT).match(text, m.end()).end()  # type: ignore[union-attr]
        nxt = text[pos:pos + 1]
        if at_start and last in ("", "\n") and nxt in ("", "\n"):
            _trim(parts)  # rule 4
            while text[pos:pos + 1] == "\n":
                pos += 1
        elif at_start:
            cap = True  # rule 3
        elif nxt in ("", ".", "!", "?", "\n") and _trim(parts) in (",", ";", ":"):
            parts[-1] = parts[-1][:-1]  # rule 2
        removed += 1
        key = "removed:" + " ".join(m.group(0).lower().split())
        counts[key] = counts.get(key, 0) + 1
    _append(parts, text[pos:], cap)
    out = "".join(parts)
    counts["keywords_removed"] = removed
    if not removed:
        return Outcome(turn.text, counts=counts)
    return Outcome(turn.with_thoughts(out.strip()), counts=counts)


def _last_char(parts: list[str]) -> str:
    """The last character of the output that is not a space or tab ("" if none)."""
    for piece in reversed(parts):
        kept = piece.rstrip(" \t")
        if kept:
            return kept[-1]
    return ""


def _trim(parts: list[str]) -> str:
    """Drop the output's trailing spaces and tabs; its last character then ("" if none)."""
    while parts:
        parts[-1] = parts[-1].rstrip(" \t")
        if parts[-1]:
            return parts[-1][-1]
        parts.pop()
    return ""


def _append(parts: list[str], chunk: str, cap: bool) -> bool:
    """Add `chunk`, its first word capitalised when a removal opened its sentence; whether
    the capital is still owed (the chunk was empty)."""
    if not chunk:
        return cap
    if cap and _WORD.match(chunk) and chunk[0].islower() and len(chunk[0].upper()) == 1:
        chunk = chunk[0].upper() + chunk[1:]
    parts.append(chunk)
    return False
