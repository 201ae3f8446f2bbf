import json

import pytest

from bolt_eval.store import Store, slug
from bolt_eval.types import UserError


def manifest(chash="abc", config=None):
    return {"config_hash": chash, "config": config or {"task": "math500"}, "started": "t0"}


def test_append_is_durable_and_reopen_resumes(tmp_path):
    store = Store(tmp_path)
    with store.open("run1", manifest()) as run:
        run.append({"id": "a", "outputs": []})
        run.append({"id": "b", "outputs": []})
    with store.open("run1", manifest()) as run:
        assert list(run.records) == ["a", "b"]
    assert json.loads((tmp_path / "run1" / "manifest.json").read_text())["config_hash"] == "abc"


def test_torn_last_line_is_dropped(tmp_path, capsys):
    store = Store(tmp_path)
    with store.open("run1", manifest()) as run:
        run.append({"id": "a", "outputs": []})
    path = tmp_path / "run1" / "samples.jsonl"
    with open(path, "a") as fh:
        fh.write('{"id": "b", "outp')
    with store.open("run1", manifest()) as run:
        assert list(run.records) == ["a"]
        run.append({"id": "b", "outputs": []})
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()] == ["a", "b"]
    assert "dropping a torn last line (17 bytes)" in capsys.readouterr().err


def test_folder_of_another_configuration_is_refused(tmp_path):
    store = Store(tmp_path)
    with store.open("run1", manifest("abc", {"task": "math500", "seed": 0})):
        pass
    with pytest.raises(UserError, match=r"belongs to a different configuration \(differs in: seed\)"):
        with store.open("run1", manifest("def", {"task": "math500", "seed": 1})):
            pass


def test_corrupt_middle_line_names_the_line(tmp_path):
    (tmp_path / "run1").mkdir()
    (tmp_path / "run1" / "samples.jsonl").write_text('{"id": "a"}\nGARBAGE\n{"id": "c"}\n')
    with pytest.raises(UserError, match="samples.jsonl line 2: corrupt record"):
        with Store(tmp_path).open("run1", manifest()):
            pass


def test_names_cannot_escape_the_results_root(tmp_path):
    assert slug("../../etc/passwd") == "etc_passwd"
    assert slug("org/model-7B") == "org_model-7B"
    assert "/" not in Store(tmp_path).run_id("../../x", "math500", "0" * 64)
    with pytest.raises(UserError, match="would escape the results root"):
        Store(tmp_path).open("../outside", manifest())


def test_a_line_separator_inside_a_string_is_not_a_line_end(tmp_path):
    from bolt_eval.jsonl import read_jsonl
    from bolt_eval.store import Store

    path = tmp_path / "rows.jsonl"
    path.write_text(json.dumps({"id": "a", "text": "one\u2028two"}, ensure_ascii=False) + "\n", encoding="utf-8")
    assert [row["text"] for _, row in read_jsonl(path)] == ["one\u2028two"]
    store = Store(tmp_path)
    with store.open("r", {"config_hash": "h", "config": {}}) as run:
        run.append({"id": "a", "text": "x\u2028y"})
    with store.open("r", {"config_hash": "h", "config": {}}) as run:
        assert run.records["a"]["text"] == "x\u2028y"


def test_a_run_that_fails_before_its_first_record_leaves_no_folder(tmp_path):
    store = Store(tmp_path)
    with pytest.raises(UserError, match="model failed to load"):
        with store.open("run1", manifest()):
            raise UserError("model failed to load")
    assert list(tmp_path.iterdir()) == []
    with store.open("run2", manifest()) as run:  # a folder with records is kept, whatever happens next
        run.append({"id": "a", "outputs": []})
    with pytest.raises(UserError), store.open("run2", manifest()):
        raise UserError("later failure")
    assert (tmp_path / "run2" / "samples.jsonl").read_text().count("\n") == 1


def test_a_waiting_run_takes_over_a_folder_removed_under_it(tmp_path, capsys):
    """B waits for A's lock; A fails before any record and removes the folder; B must then
    lock the folder's new lock file, not the removed one it was waiting on."""
    import os
    import threading
    import time

    store, opened = Store(tmp_path), threading.Event()

    def b():
        opened.wait()
        with store.open("run1", manifest()) as run:
            run.append({"id": "b", "outputs": []})
            time.sleep(0.3)  # holding the lock: a third run must wait for it, not take the old file

    thread = threading.Thread(target=b)
    thread.start()
    with pytest.raises(UserError):
        with store.open("run1", manifest()):
            opened.set()
            time.sleep(0.3)  # B is waiting now
            raise UserError("failed start")
    time.sleep(0.1)
    with store.open("run1", manifest()) as run:
        assert list(run.records) == ["b"]
    thread.join()
    assert f"is being written by another bolt-eval run (pid {os.getpid()})" in capsys.readouterr().err


def test_answers_are_reused_from_the_most_complete_donor_after_a_kill_while_copying(tmp_path, capsys):
    """Runs judged differently share their answers; a kill after the first copied record used
    to leave the rest to be generated again (a run with records got no reuse)."""
    store = Store(tmp_path)
    gen = {"generation_hash": "g1"}
    with store.open("a-partial", {**manifest("p"), **gen}) as run:
        run.append({"id": "x", "outputs": [{"from": "partial"}]})
    with store.open("b-full", {**manifest("f"), **gen}) as run:
        for sid in "xyz":
            run.append({"id": sid, "outputs": [{"from": "full"}]})
    with store.open("c-other", {**manifest("o"), "generation_hash": "g2"}) as run:
        run.append({"id": "w", "outputs": []})
    with store.open("new", {**manifest("n"), **gen}) as run:
        run.append({"id": "x", "outputs": [{"from": "full"}]})  # what the killed copy got through
        assert store.reuse_answers(run, "g1") == 2
        assert {sid: r["outputs"][0]["from"] for sid, r in run.records.items()} == {"x": "full", "y": "full", "z": "full"}
        assert store.reuse_answers(run, "g1") == 0
    assert "reusing 2 answers from b-full" in capsys.readouterr().err
    with store.open("new", {**manifest("n"), **gen}) as run:
        assert sorted(run.records) == ["x", "y", "z"]
