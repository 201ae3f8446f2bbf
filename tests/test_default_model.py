"""The embedded default model's conversion (bolt_eval/models.py) writes the same files
whatever the environment: its fingerprint names the model in every manifest, and the CI
gate refuses a candidate whose judge differs from the baseline's by it (a conversion run
online once wrote `local_files_only: false` into tokenizer_config.json, offline `true`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

from conftest import ROOT

from bolt_eval.models import ModelSource, describe_source

CONVERT = "import sys; from pathlib import Path; from bolt_eval.models import _convert_default; " \
          "_convert_default(Path(sys.argv[1]))"


def test_conversion_is_the_same_online_and_offline_and_matches_the_ci_baseline(tmp_path):
    for offline in ("0", "1"):
        subprocess.run([sys.executable, "-c", CONVERT, str(tmp_path / offline)], check=True, capture_output=True,
                       env={**os.environ, "HF_HUB_OFFLINE": offline})
    online, offline = (describe_source(ModelSource("local", str(tmp_path / o))) for o in ("0", "1"))
    for o in ("0", "1"):  # 0.5 GB each: not kept in pytest's last three temporary folders
        shutil.rmtree(tmp_path / o)
    [manifest] = (ROOT / "results" / "baselines" / "smoke").glob("default--mt_bench--*/manifest.json")
    judge = json.loads(manifest.read_text())["config"]["judge"]["model"]["model"]
    assert online["tokenizer_sha256"] == offline["tokenizer_sha256"] == judge["tokenizer_sha256"]
    assert online["weights_sha256"] == offline["weights_sha256"] == judge["weights_sha256"]
