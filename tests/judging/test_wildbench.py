"""WildBench v2: WB-Score and WB-Reward arithmetic against hand-computed values and a small
independent implementation, the data schema's errors, and end-to-end runs through the engine
with a scripted judge on a real loopback server (and, slow, the default model as judge)."""

from __future__ import annotations

import json
import random
import re

import pytest
from conftest import ROOT
from openai_server import LoopbackServer

from bolt_eval import stats
from bolt_eval.backends.base import BackendSpec
from bolt_eval.judging.judge import JudgeSpec
from bolt_eval.judging.parsers import parse_wb_choice, parse_wb_score
from bolt_eval.registry import benchmarks
from bolt_eval.runner import EvalConfig, TaskSpec, evaluate
from bolt_eval.types import UserError
from bolt_eval.wildbench import data, scoring, templates

FIXTURE = ROOT / "tasks" / "wildbench" / "fixture.jsonl"
ROWS = [json.loads(line) for line in FIXTURE.read_text().splitlines()]
G, H = "claude-3-haiku-20240307", "gpt-4-turbo-2024-04-09"

# -- arithmetic ------------------------------------------------------------------------------


@pytest.mark.parametrize("choice, cand_a, cand_len, ref_len, k, expected", [
    ("A++", True, 10, 10, 500, 1.0), ("A++", False, 10, 10, 500, -1.0),
    ("A+", True, 10, 10, 500, 0.5), ("B+", True, 10, 10, 500, -0.5),
    ("B+", False, 10, 10, 500, 0.5), ("A=B", True, 10, 10, 500, 0.0), ("B++", False, 10, 10, 500, 1.0),
    # K: a slight win of an answer longer than the loser's by more than K chars is a tie...
    ("A+", True, 1000, 499, 500, 0.0), ("A+", True, 1000, 500, 500, 0.5),  # by exactly K: still a win
    ("A+", False, 499, 1000, 500, 0.0),  # the reference wins slightly, being 501 longer: a tie
    ("A+", False, 1000, 100, 500, -0.5),  # the shorter winner keeps its win
    # ... never a strong win, and K = -1 disables it
    ("A++", True, 5000, 10, 500, 1.0), ("B++", True, 10, 5000, 500, -1.0),
    ("A+", True, 5000, 10, -1, 0.5), ("A+", True, 5000, 10, 0, 0.0),
])
def test_reward_mapping_and_length_penalty(choice, cand_a, cand_len, ref_len, k, expected):
    assert scoring.reward(choice, cand_a, cand_len, ref_len, k) == expected


def test_task_groups_and_macro_by_hand():
    assert scoring.groups_of("Math", ["Data Analysis", "Reasoning"]) == ("Planning & Reasoning", "Math & Data Analysis")
    assert scoring.groups_of("Others", ["Role playing"]) == ("Creative Tasks",)
    values = [10.0, 20.0, 60.0, -20.0]
    groups = [("Creative Tasks",), ("Creative Tasks", "Coding & Debugging"), ("Coding & Debugging",), ("Math & Data Analysis",)]
    # Creative: (10 + 20) / 2 = 15 (w 0.5); Coding: (20 + 60) / 2 = 40 (w 1.25); Math: -20 (w 1)
    expected = (0.5 * 15 + 1.25 * 40 + 1.0 * -20) / (0.5 + 1.25 + 1.0)
    assert scoring.macro(values, groups) == pytest.approx(expected)
    w = scoring.macro_weights(groups)
    assert sum(a * b for a, b in zip(w, values)) / sum(w) == pytest.approx(expected)
    r = scoring.Resampled([[v] for v in values], groups, rounds=200)
    assert r.macros(r.point_idx)[0, 0] == pytest.approx(expected)
    assert r.means(r.point_idx)[0, 0] == pytest.approx(17.5)
    assert scoring.adjusted(8) == 60.0 and scoring.adjusted(5) == 0.0 and scoring.adjusted(1) == -80.0


def test_all_five_groups_weigh_as_the_leaderboard():
    # every group present: the official formula (sum of all weights) and ours agree
    groups = [(g,) for g in scoring.GROUPS]
    values = [1.0, 2.0, 3.0, 4.0, 5.0]
    official = sum(v * w for v, w in zip(values, (0.5, 1.25, 1.0, 0.75, 1.25))) / 4.75
    assert scoring.macro(values, groups) == pytest.approx(official)


def test_seeded_order_one_per_item_and_reference():
    ids = [r["session_id"] for r in ROWS]
    first = [scoring.candidate_is_a(42, i, G) for i in ids]
    assert first == [scoring.candidate_is_a(42, i, G) for i in ids]  # same seed, same order
    assert 4 <= sum(first) <= 20  # a coin, not a constant
    assert first != [scoring.candidate_is_a(7, i, G) for i in ids]
    # independent of which other items run (a --limit does not move it): the coin is the item's own
    assert scoring.candidate_is_a(42, ids[5], G) == (random.Random(f"42\x00{ids[5]}\x00{G}").random() < 0.5)


def test_shorten_as_the_official_scorer():
    assert data.shorten("a b c", 3) == "a b c"
    assert data.shorten("a b c d", 3) == "a b c... (truncated)"
    assert data.shorten(" ".join(["w"] * 1001)) == " ".join(["w"] * 1000) + "... (truncated)"


@pytest.mark.parametrize("reply, verdict", [
    ('{"strengths": "s", "weaknesses": "w", "score": "7"}', 7.0),
    ('Analysis...\n```json\n{\n  "strengths": "s",\n  "weaknesses": "w",\n  "score": 9\n}\n```', 9.0),
    ('{"score": "[1~10]"}', None), ('{"score": "11"}', None), ("Score: 8", None),
    ('{"score": 3} and later {"score": 8}', None),  # disagreeing objects are no verdict
])
def test_parse_wb_score(reply, verdict):
    got = parse_wb_score(reply)
    assert (got and got["score"]) == verdict


@pytest.mark.parametrize("reply, choice", [
    ('{"analysis of A": "x", "choice": "B++"}', "B++"),
    ('{"analysis of A": "x",\n "choice": "A+",\n}', "A+"),  # the template's own trailing comma
    ('{"choice": "A>B"}', None), ('{"choice": "A+"} {"choice": "B+"}', None), ("A++", None),
])
def test_parse_wb_choice(reply, choice):
    assert parse_wb_choice(reply) == choice


# -- data --------------------------------------------------------------------------------------


@pytest.mark.parametrize("change, message", [
    (lambda r: r.pop("checklist"), "line 2: field 'checklist' missing"),
    (lambda r: r.update(primary_tag="Cooking"), "line 2: field 'primary_tag': unknown tag 'Cooking'"),
    (lambda r: r.update(secondary_tags=["Math", "Poetry"]), "line 2: field 'secondary_tags': unknown tag 'Poetry'"),
    (lambda r: r["conversation_input"].append({"role": "assistant", "content": "x"}),
     "line 2: field 'conversation_input' must end with a non-empty user message"),
    (lambda r: r["conversation_input"][0].pop("role"), "line 2: field 'conversation_input' item 0"),
    (lambda r: r["reference_outputs"].pop(G), "line 2: field 'reference_outputs' holds"),
    (lambda r: r.update(checklist=[]), "line 2: field 'checklist' must be a non-empty list"),
])
def test_bad_rows_name_file_line_and_field(tmp_path, change, message):
    rows = [json.loads(json.dumps(r)) for r in ROWS[:3]]
    change(rows[1])
    path = tmp_path / "wb.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(UserError, match=re.escape(f"{path} {message}")):
        benchmarks.get("wildbench")(data=str(path)).load()


def test_multi_turn_history_as_the_judge_sees_it():
    task = benchmarks.get("wildbench")(data=str(FIXTURE))
    s = {x.id: x for x in task.load().samples}["wbfx-012"]
    assert s.reference["history"] == "USER: Write a Python function that reverses a string.\n\n" \
                                     "ASSISTANT: def rev(s):\n    return s[::-1]\n\n"
    assert s.reference["user_query"] == "Now make it also remove spaces before reversing."
    # the candidate gets the recorded conversation as chat messages, then the query
    assert s.turns == ("Now make it also remove spaces before reversing.",)
    assert s.history == ({"role": "user", "content": "Write a Python function that reverses a string."},
                         {"role": "assistant", "content": "def rev(s):\n    return s[::-1]"})


def test_the_candidate_sees_the_history_as_messages(tmp_path):
    from bolt_eval.generation import messages

    task = benchmarks.get("wildbench")(data=str(FIXTURE))
    s = {x.id: x for x in task.load().samples}["wbfx-012"]
    msgs = messages(s, [], task.prompt(s, 0))
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert msgs[-1]["content"] == "Now make it also remove spaces before reversing."


def test_official_templates_from_the_cache(tmp_path, monkeypatch):
    """Official files found (here: stand-ins written into the cache) are used as they are,
    `{$slot}` filled and literal JSON braces kept; the source is the published URL."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    folder = tmp_path / "bolt-eval" / "data" / "wildbench" / templates.COMMIT
    folder.mkdir(parents=True)
    (folder / templates.FILES["score"]).write_text(
        "H {$history} Q {$user_query} R {$model_output} C {$checklist} -> {\"score\": \"[1~10]\"}")
    (folder / templates.FILES["pairwise"]).write_text(
        "H {$history} Q {$user_query} A {$candidate_A} B {$candidate_B} C {$checklist} {\"choice\": \"\"}")
    t = templates.load()
    assert t["score"].source == f"url:{templates.PUBLISHED}/eval_template.score.v2.md"
    text = t["score"].render(history="h{x}", user_query="q", model_output="m", checklist="- c\n").messages[0]["content"]
    assert text == 'H h{x} Q q R m C - c\n -> {"score": "[1~10]"}'
    (folder / templates.FILES["pairwise"]).write_text("no slots here")
    with pytest.raises(UserError, match="expected the slots"):
        templates.load()


# -- end to end --------------------------------------------------------------------------------

IDS = [r["session_id"] for r in ROWS[:8]]
GRADE = {"wbfx-000": 8, "wbfx-001": 6, "wbfx-002": 9, "wbfx-003": 10, "wbfx-004": 4, "wbfx-005": 7, "wbfx-006": 3}
# the judge's opinion of the candidate against each reference, in the candidate's terms
OUTCOME = {"wbfx-000": ("++", "+"), "wbfx-001": ("-", "="), "wbfx-002": ("+", "+"), "wbfx-003": ("--", "+"),
           "wbfx-004": ("=", "-"), "wbfx-005": ("+", "++"), "wbfx-006": ("-", "--")}
LONG = {"wbfx-002", "wbfx-005"}  # answers padded far past the references: their slight wins become ties


def answer_text(sid):
    if sid == "wbfx-007":
        return "<think>nothing to say</think>"  # an empty solution: no judge call, fixed verdicts
    pad = " padding" * 200 if sid in LONG else ""
    return f"<think>secret reasoning {sid}</think>CAND-{sid} my answer.{pad}"


@pytest.fixture
def answers(tmp_path):
    path = tmp_path / "answers.jsonl"
    path.write_text("".join(json.dumps({"id": i, "response": answer_text(i)}) + "\n" for i in IDS))
    return path


def scripted(body):
    text = body["messages"][-1]["content"]
    sid = re.search(r"CAND-(wbfx-\d+)", text)[1]
    if "reply A" not in text:  # the single-answer template
        return json.dumps({"strengths": "ok", "weaknesses": "none", "score": str(GRADE[sid])})
    ref = G if ROWS[int(sid[-3:])]["reference_outputs"][G][:40] in text else H
    cand_first = text.index(f"CAND-{sid}") < text.index(ROWS[int(sid[-3:])]["reference_outputs"][ref][:40])
    mark = OUTCOME[sid][0 if ref == G else 1]
    if mark == "=":
        return json.dumps({"analysis of A": "x", "choice": "A=B"})
    wins = mark[0] == "+"
    side = "A" if wins == cand_first else "B"
    return json.dumps({"analysis of A": "x", "analysis of B": "y", "choice": side + "+" * len(mark)})


def expected_summary(k=500):
    """An independent reckoning of what the run must report."""
    rows = {r["session_id"]: r for r in ROWS}
    grade = {i: GRADE.get(i, 1) for i in IDS}  # the empty answer scores 1
    adj = {i: (g - 5) * 2 * 10 for i, g in grade.items()}
    table = {"Information seeking": "Information/Advice seeking", "Advice seeking": "Information/Advice seeking",
             "Creative Writing": "Creative Tasks", "Editing": "Creative Tasks", "Brainstorming": "Creative Tasks",
             "Role playing": "Creative Tasks", "Others": "Creative Tasks", "Coding & Debugging": "Coding & Debugging",
             "Reasoning": "Planning & Reasoning", "Planning": "Planning & Reasoning", "Math": "Math & Data Analysis",
             "Data Analysis": "Math & Data Analysis"}
    weight = {"Creative Tasks": 0.5, "Planning & Reasoning": 1.25, "Math & Data Analysis": 1.0,
              "Information/Advice seeking": 0.75, "Coding & Debugging": 1.25}
    groups = {i: {table[t] for t in [rows[i]["primary_tag"], *rows[i]["secondary_tags"]]} for i in IDS}

    def macro(vals):
        per = {}
        for i, v in vals.items():
            for g in groups[i]:
                per.setdefault(g, []).append(v)
        return sum(weight[g] * sum(v) / len(v) for g, v in per.items()) / sum(weight[g] for g in per)

    rewards = {G: {}, H: {}}
    for i in IDS:
        sol = answer_text(i).split("</think>")[1]
        for n, ref in enumerate((G, H)):
            if i == "wbfx-007":
                rewards[ref][i] = -100.0
                continue
            mark = OUTCOME[i][n]
            value = {"++": 100.0, "+": 50.0, "=": 0.0, "-": -50.0, "--": -100.0}[mark]
            ref_len = len(rows[i]["reference_outputs"][ref])
            if k >= 0 and mark == "+" and len(sol) > ref_len + k or k >= 0 and mark == "-" and ref_len > len(sol) + k:
                value = 0.0
            rewards[ref][i] = value
    return {
        "wb_score": sum(adj.values()) / len(adj), "wb_score_macro": macro(adj),
        "wb_reward": sum(sum(r.values()) / len(r) for r in rewards.values()) / 2,
        "wb_reward_macro": sum(macro(r) for r in rewards.values()) / 2,
        "by_reference": {ref: sum(r.values()) / len(r) for ref, r in rewards.items()},
    }


def config(tmp_path, answers, server, **kw):
    judge = JudgeSpec(BackendSpec("openai", "judge-x", base_url=server.base_url, concurrency=4, max_retries=2,
                                  timeout_s=5.0), parse_retries=kw.pop("parse_retries", 2))
    return EvalConfig(tasks=[TaskSpec("wildbench", str(FIXTURE), limit=len(IDS))],
                      backend=BackendSpec("replay", str(answers)), thoughts="think", out=str(tmp_path / "results"),
                      judge=judge, progress=False, **kw)


def test_end_to_end_exact_scores_coverage_and_rerun(tmp_path, answers):
    with LoopbackServer(scripted) as server:
        [r] = evaluate(config(tmp_path, answers, server))
        # 7 non-empty answers: 1 grade + 1 battle per reference each; the empty one costs nothing
        assert len(server.requests) == 7 * 3
        prompts = [b["messages"][-1]["content"] for b in server.requests]
        assert not any("secret reasoning" in p for p in prompts)  # the judge never sees thoughts
        assert sum("CAND-wbfx-002 my answer. padding padding" in p for p in prompts) == 3
        m = r.summary["metrics"]
        want = expected_summary()
        for key in ("wb_score", "wb_score_macro", "wb_reward", "wb_reward_macro"):
            assert m[key]["mean"] == pytest.approx(want[key], abs=1e-6), key
        assert {k: v["mean"] for k, v in m["by_reference"].items()} == pytest.approx(want["by_reference"], abs=1e-6)
        assert m["reward_by_k"]["-1"] == pytest.approx(expected_summary(k=-1)["wb_reward"], abs=1e-6)
        assert m["reward_by_k"]["-1"] != pytest.approx(m["wb_reward"]["mean"])  # K changed two slight wins
        # 000 ++; 001 -; 002 + but 1600 chars longer: tie; 003 --; 004 =; 005 + long: tie; 006 -; 007 empty: --
        assert m["outcomes"][G] == {"win_much": 1, "win": 0, "tie": 3, "lose": 2, "lose_much": 2}
        assert m["wb_score"]["n"] == 8 and m["wb_score"]["lo"] <= m["wb_score"]["mean"] <= m["wb_score"]["hi"]
        assert r.summary["headline"]["metric"] == "wb_score_macro"
        assert r.summary["coverage"] == {"judged": 21, "total": 21, "rate": 1.0, "by_status": {"ok": 21}}
        assert r.manifest["config"]["judge"]["template_source"] == ["project:judge_templates.yaml"]
        assert r.manifest["config"]["judge"]["substitute"] is True
        before = (r.dir / "summary.json").read_bytes()
        [again] = evaluate(config(tmp_path, answers, server))
        assert len(server.requests) == 21 and again.manifest["runtime"]["judge_calls"] == 0
        assert (again.dir / "summary.json").read_bytes() == before
    from bolt_eval.comparing.runs import load_run
    run = load_run(r.dir)  # what compare and gate read: the items rebuild the headline
    ids = list(run.values)
    assert stats.weighted_ratio([run.values[i] for i in ids], [run.weights[i] for i in ids]) == \
        pytest.approx(m["wb_score_macro"]["mean"])
    assert run.weights["wbfx-000"] > 0 and len(ids) == 8


def test_one_order_per_battle_matches_the_seeded_coin(tmp_path, answers):
    with LoopbackServer(scripted) as server:
        evaluate(config(tmp_path, answers, server))
        for body in server.requests:
            text = body["messages"][-1]["content"]
            if "reply A" not in text:
                continue
            sid = re.search(r"CAND-(wbfx-\d+)", text)[1]
            ref_text = ROWS[int(sid[-3:])]["reference_outputs"]
            ref = G if ref_text[G][:40] in text else H
            cand_first = text.index(f"CAND-{sid}") < text.index(ref_text[ref][:40])
            assert cand_first == (random.Random(f"42\x00{sid}\x00{ref}").random() < 0.5)


def test_failed_verdicts_are_marked_and_left_out(tmp_path, answers):
    def stubborn(body):
        text = body["messages"][-1]["content"]
        return "A fine answer, I give it an 8." if "CAND-wbfx-000" in text and "reply A" not in text else scripted(body)

    with LoopbackServer(stubborn) as server:
        [r] = evaluate(config(tmp_path, answers, server, parse_retries=1, max_judge_failures=0.1))
    assert r.summary["coverage"] == {"judged": 20, "total": 21, "rate": round(20 / 21, 6),
                                     "by_status": {"ok": 20, "parse_error": 1}}
    assert r.ok  # 1/21 < 10%
    adj = [(GRADE.get(i, 1) - 5) * 20 for i in IDS if i != "wbfx-000"]
    assert r.summary["metrics"]["wb_score"]["mean"] == pytest.approx(sum(adj) / len(adj), abs=1e-6)  # not a 0 in the mean
    assert r.summary["metrics"]["wb_score"]["n"] == 8
