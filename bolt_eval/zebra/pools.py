"""Attribute pools for generated ZebraLogic puzzles, and how clues name each value.

Each attribute has a solution-table header (as in the official grid-mode data: "Name",
"Nationality", ...), the sentence that introduces its values in the puzzle text, at
least 7 values (so any 6-house puzzle can sample from it) and a noun-phrase template
that turns a value into the way a clue refers to its owner ("the person who keeps a
cat", "the Danish person", "Alice"). There are 13 attributes, so a 6x6 grid always fits.
"Name" is always the first attribute of a generated puzzle, as in the official data.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Attribute:
    """One characteristic of the people in the houses."""

    header: str
    intro: str
    values: tuple[str, ...]
    template: str  # "{v}" is replaced by the value; lower-case start unless a proper noun

    def phrase(self, value: str) -> str:
        """How a clue refers to the person with `value` (mid-sentence form)."""
        if value not in self.values:
            raise ValueError(f"{value!r} is not a value of attribute {self.header!r}")
        return self.template.format(v=value)


NAME = Attribute(
    "Name",
    "Each person has a unique name",
    ("Alice", "Bernard", "Chloe", "Diego", "Elena", "Farid", "Greta"),
    "{v}",
)

OTHER_ATTRIBUTES: tuple[Attribute, ...] = (
    Attribute(
        "Nationality",
        "Each person has a unique nationality",
        ("Danish", "Swedish", "British", "German", "Norwegian", "Italian", "Mexican"),
        "the {v} person",
    ),
    Attribute(
        "Pet",
        "Each person keeps a unique pet",
        ("cat", "dog", "hamster", "parrot", "rabbit", "turtle", "goldfish"),
        "the person who keeps a {v}",
    ),
    Attribute(
        "Drink",
        "Each person has a unique favorite drink",
        ("coffee", "tea", "milk", "water", "juice", "lemonade", "cocoa"),
        "the person who drinks {v}",
    ),
    Attribute(
        "Color",
        "Each person has a unique favorite color",
        ("red", "green", "blue", "yellow", "white", "purple", "orange"),
        "the person whose favorite color is {v}",
    ),
    Attribute(
        "Hobby",
        "Each person has a unique hobby",
        ("gardening", "painting", "knitting", "chess", "hiking", "baking", "fishing"),
        "the person who enjoys {v}",
    ),
    Attribute(
        "Car",
        "Each person drives a unique type of car",
        ("sedan", "pickup", "convertible", "minivan", "hatchback", "coupe", "jeep"),
        "the person who drives a {v}",
    ),
    Attribute(
        "Food",
        "Each person has a unique favorite food",
        ("pizza", "sushi", "tacos", "curry", "pasta", "stew", "salad"),
        "the person whose favorite food is {v}",
    ),
    Attribute(
        "Flower",
        "Each person grows a unique kind of flower",
        ("roses", "tulips", "lilies", "daisies", "orchids", "irises", "sunflowers"),
        "the person who grows {v}",
    ),
    Attribute(
        "MusicGenre",
        "Each person has a unique favorite music genre",
        ("jazz", "rock", "pop", "classical", "blues", "hip hop", "country"),
        "the person who loves {v} music",
    ),
    Attribute(
        "Sport",
        "Each person plays a unique sport",
        ("tennis", "soccer", "golf", "hockey", "rugby", "volleyball", "baseball"),
        "the person who plays {v}",
    ),
    Attribute(
        "Occupation",
        "Each person has a unique occupation",
        ("doctor", "teacher", "engineer", "artist", "lawyer", "nurse", "chef"),
        "the {v}",
    ),
    Attribute(
        "Birthday",
        "Each person has a birthday in a unique month",
        ("January", "March", "April", "June", "August", "October", "December"),
        "the person born in {v}",
    ),
)

ATTRIBUTES: dict[str, Attribute] = {a.header: a for a in (NAME, *OTHER_ATTRIBUTES)}
MAX_SIZE = min(len(a.values) for a in ATTRIBUTES.values())


def sentence_start(phrase: str) -> str:
    """Capitalise a phrase for the start of a sentence ("the cat owner" -> "The cat owner")."""
    return phrase[:1].upper() + phrase[1:]
