"""The ZebraLogic grid-mode prompt: one worked example, the puzzle, a JSON answer template.

Same layout as the official ZeroEval template (WildEval/ZeroEval
src/templates/ZEBRA_GRID.py): "# Example Puzzle" with its clues and a JSON answer that
carries "reasoning" and "solution", then "# Puzzle to Solve", then "# Instruction" with
a template whose every cell is "___" under the keys "House 1".."House N" and the
solution-table headers, the keys the grader reads. The worked example is our own
(3 houses x 3 attributes); tests check that it has exactly the answer shown.
"""

from __future__ import annotations

import json

from bolt_eval.zebra.puzzle import Puzzle

EXAMPLE_PUZZLE = """\
There are 3 houses, numbered 1 to 3 from left to right, as seen from across the street. \
Each house is occupied by a different person. Each house has a unique attribute for each \
of the following characteristics:
 - Each person has a unique name: `Mila`, `Omar`, `Tess`
 - Each person has a unique favorite fruit: `apple`, `banana`, `cherry`
 - Each person plays a unique instrument: `drums`, `flute`, `guitar`"""

EXAMPLE_CLUES = (
    "Tess is not in the first house.",
    "Tess is directly left of the person who likes cherries.",
    "The person who likes apples is Omar.",
    "The person who plays the drums is in the second house.",
    "The person who plays the guitar is somewhere to the right of the person who plays the flute.",
)

EXAMPLE_ANSWER = {
    "reasoning": (
        "Clue 2 puts someone directly right of Tess, so Tess cannot be in House 3; with Clue 1 "
        "she must be in House 2, and the cherry lover is in House 3. By Clue 3 Omar likes apples, "
        "so he is neither in House 3 (cherries) nor in House 2 (Tess): Omar is in House 1 with "
        "apples. Mila is then in House 3 with cherries, and Tess likes bananas. Clue 4 gives "
        "Tess the drums. The flute and guitar go to Houses 1 and 3, and Clue 5 puts the guitar to "
        "the right of the flute, so Omar plays the flute and Mila plays the guitar."
    ),
    "solution": {
        "House 1": {"Name": "Omar", "Fruit": "apple", "Instrument": "flute"},
        "House 2": {"Name": "Tess", "Fruit": "banana", "Instrument": "drums"},
        "House 3": {"Name": "Mila", "Fruit": "cherry", "Instrument": "guitar"},
    },
}


def answer_template(puzzle: Puzzle) -> str:
    """The JSON the model must fill: "___" for the reasoning and for every cell."""
    header = puzzle.solution["header"]
    solution = {f"House {h}": {attr: "___" for attr in header[1:]} for h in range(1, puzzle.n_houses + 1)}
    return json.dumps({"reasoning": "___", "solution": solution}, indent=4)


def render_prompt(puzzle: Puzzle) -> str:
    """The full user prompt for one puzzle."""
    clues = "\n".join(f"{i}. {clue}" for i, clue in enumerate(EXAMPLE_CLUES, start=1))
    return (
        "# Example Puzzle\n\n"
        f"{EXAMPLE_PUZZLE}\n\n"
        "## Clues for the Example Puzzle\n\n"
        f"{clues}\n\n"
        "## Answer to the Example Puzzle\n\n"
        f"{json.dumps(EXAMPLE_ANSWER, indent=4)}\n\n"
        "# Puzzle to Solve\n\n"
        f"{puzzle.puzzle.strip()}\n\n"
        "# Instruction\n\n"
        "Now solve the puzzle above. Work through the clues step by step, then give your "
        "reasoning and the complete solution in exactly this JSON format, replacing every "
        "\"___\":\n\n"
        f"{answer_template(puzzle)}\n"
    )
