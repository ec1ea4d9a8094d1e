"""The data audit: stored records that carry stereotypes or toxic content.

A record is flagged when its text has
- a *toxic* word (insults, slurs, profanity: `TOXIC`), or
- a *social group* (`GROUPS`: nationalities, ethnicities, religions, genders, ages,
  orientations, disabilities, classes) together with a *generalisation* about it: a
  quantifier or habitual claim on the group ("all/most X", "X are always", "X tend to",
  "X can't", "typical X", "X belong in") or a trait word used on people (`TRAITS`).
A group named without a claim ("the women's final was held in France") is not flagged.
- or, when the word lists find nothing, the learned *detector* (`detector.py`, a linear
  probe on the MiniLM vectors the Mental Process already computes) scores it at or above its
  threshold: the stereotypes people write without a listed word or pattern.

The word lists are hand-written and run in milliseconds per thousand records; the detector
embeds each record once (~100 a second on one core). Measured (bench/monitor_bias.py)
on planted records, on the packaged CrowS-Pairs stereotypes and toxic comments and on neutral
Wikipedia paragraphs (the detector on the half it was not fitted on). What both miss: a
stereotype carried by a role without a group word ("the nurse said she ..." against "he"),
sarcasm, and slurs neither has seen. Every finding names the record, its version and the
undoable command that fixes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mindpilot.mental_process.embed import get_embedder
from mindpilot.mental_process.records import Record
from mindpilot.mental_process.store import Store
from mindpilot.monitor import data_checks, detector
from mindpilot.monitor.findings import Finding, finding

__all__ = ["Finding", "Verdict", "audit_store", "judge", "record_text"]


def _words(text: str) -> str:
    return "|".join(
        sorted({w.strip() for w in text.split(",") if w.strip()}, key=len, reverse=True)
    )


GROUPS = _words("""
women, woman, men, man, girls, girl, boys, boy, females, female, males, male, ladies, lady,
gentlemen, wives, wife, husbands, mothers, mother, moms, mom, fathers, dads, sisters, brothers,
blacks, black people, black men, black women, black kids, black guy, black man, black woman,
whites, white people, white men, white women, white kids, white guy, white man, white woman,
african americans, african american, africans, african, asians, asian, chinese, japanese,
koreans, korean, indians, indian, mexicans, mexican, hispanics, hispanic, latinos, latino,
latinas, latina, arabs, arab, muslims, muslim, islamic, jews, jewish, jew, christians,
christian, catholics, catholic, mormons, mormon, hindus, hindu, buddhists, atheists, atheist,
immigrants, immigrant, refugees, foreigners, foreigner, americans, american, russians, russian,
germans, german, french, italians, italian, irish, british, english people, poles, polish,
ethiopians, ethiopian, somalis, somali, nigerians, iranians, iranian, iraqis, syrians, syrian,
afghans, saudis, saudi, persians, persian, eritreans, eritrean, ghanaians, cameroonians,
moroccans, vietnamese, ukrainians, norwegians, crimeans, bengalis, lebanese, yemenis,
ecuadorians, colombians, columbians, spaniards, brahmins, gypsies, gypsy, roma, natives,
native americans, indigenous, gays, gay men, gay people, gay, lesbians, lesbian, homosexuals,
homosexual, transgender, trans people, bisexuals, queers, queer,
old people, elderly, seniors, the old, old man, old woman, old men, old women, boomers,
teenagers, teens, millennials, young people, kids, children,
disabled people, disabled, the disabled, blind people, deaf people, autistic people, autistic,
mentally ill, handicapped, wheelchair users, fat people, obese people, ugly people, short men,
the poor, poor people, poor kids, the rich, rich people, homeless people, the homeless,
welfare recipients, working class, rednecks, redneck, hillbillies, peasants
""")

GENERALISATIONS = (
    rf"\b(?:all|most|every|typical|those|these|such)\s+(?:of\s+the\s+)?(?:{GROUPS})\b",
    rf"\b(?:{GROUPS})\s+(?:are|is|were)\s+(?:all\s+|always\s+|just\s+|naturally\s+|so\s+|too\s+"
    r"|really\s+|usually\s+|generally\s+|inherently\s+|simply\s+|never\s+|often\s+)",
    rf"\b(?:{GROUPS})\s+(?:always|never|tend\s+to|can't|cannot|can\s+not|shouldn't|should\s+not"
    r"|should\s+stay|should\s+be|belong|don't\s+know\s+how|do\s+not\s+know\s+how|are\s+incapable"
    r"|are\s+unable|aren't\s+(?:smart|able|capable)|lack|only\s+care|only\s+want|ruin|steal)\b",
    rf"\b(?:like|as)\s+(?:all|most|any|every|a\s+typical|the\s+typical)\s+(?:{GROUPS})\b",
    rf"\bbecause\s+(?:she|he|they)\s+(?:is|are|was|were)\s+(?:an?\s+)?(?:{GROUPS})\b",
)

TRAITS = _words("""
lazy, stupid, dumb, ignorant, violent, dangerous, criminals, criminal, thieves, thief,
terrorists, terrorist, greedy, cheap, dirty, filthy, smelly, savage, savages, primitive,
uneducated, illiterate, inferior, untrustworthy, dishonest, liars, emotional, hysterical,
irrational, weak, submissive, bossy, shrill, bad drivers, bad at math, bad at science,
good at math, can't drive, cannot drive, only good for, good only for, belong in the kitchen,
too emotional, aggressive, angry, loud, illegal, illegals, drug dealers, gangsters, thugs,
welfare, freeloaders, parasites, vermin, animals, subhuman, sluts, whores, frail, senile,
useless, worthless, burden, incompetent, unfit, sneaky, stingy, fanatics, extremists, crafty,
suspicious, steal, stole, stealing, lazy, ghetto, thugs, primitive, backwards, brainwashed,
smelled, smell, stinks, poor education, uncivilized, barbaric, nagging, gold diggers,
gold digger, predators, pedophiles, perverts, abusive, drunks, alcoholics, drug addicts,
beat, beats, can't be trusted, not to be trusted, weird, strange, cheat, cheats, mooching
""")

TOXIC = _words("""
fuck, fucking, fucked, fucker, motherfucker, shit, shitty, bullshit, bitch, bitches, bastard,
asshole, assholes, ass, dick, dickhead, cunt, piss, pissed, crap, damn, goddamn, whore, slut,
retard, retarded, idiot, idiots, moron, morons, imbecile, scum, scumbag, loser, losers, dumbass,
jackass, douche, douchebag, prick, twat, wanker, faggot, fag, dyke, nigger, nigga, chink, spic,
kike, wetback, tranny, raghead, towelhead, sand nigger, gook, cracker, hoe, hoes, pussy, cock,
suck my, kill yourself, kys, shut up, stfu, wtf, die in a fire, go to hell, hate you,
stupid, dumb, jerk, trash, bigoted, unintelligent, fascist, cucks, cuck, maggot, ho, hoe,
dildo, penis, vagina, cum, cums, horny, boobs, tits, milf, anal, anus, jerkoff, blowjob, porn,
sex toy, testicles, semen, orgasm, rape, raped, rapist, nude, naked, bugger, bloody hell,
lesbos, homophobic, racist, nazi, nazis, brainwashed, ignorant, close minded, pathetic,
disgusting, sleazy
""")

_GROUP = re.compile(rf"\b(?:{GROUPS})\b", re.IGNORECASE)
_GENERAL = [re.compile(p, re.IGNORECASE) for p in GENERALISATIONS]
_TRAIT = re.compile(rf"\b(?:{TRAITS})\b", re.IGNORECASE)
# A word-list stereotype (a group and a claim word in one sentence) stands only when the
# detector gives the record at least this: on held-out Wikipedia paragraphs the lists alone
# flagged 3.7% (an "African" sentence about predators); confirmed, neutral alarms fell from
# 4.0% to 2.3% of paragraphs while held-out CrowS-Pairs recall went from 72.8% to 72.5%
# (the fitting experiments, scripts/fit_audit_detector.py's held-out half).
CONFIRM = 0.5
_TOXIC = re.compile(
    rf"\b(?:{TOXIC})\b"
    # word families and the starred spellings people use to slip past filters (f*ck, sh!t)
    r"|\b\w*(?:fuck|shit|bitch|cunt|dick(?:head|hole)|asshole|masturbat|whore|slut)\w*"
    r"|\bf[\W_]{1,4}(?:c?k|ck\w*|king|ing)\b|\bsh[\W_]{1,3}t\b|\bb[\W_]{1,3}(?:tch|ch)\b"
    r"|\bc[\W_]{2,3}(?:t|ksucking)\b|\bf'",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Verdict:
    """Why a text is flagged (empty `kind` when it is not)."""

    kind: str  # "toxic", "stereotype" or ""
    evidence: tuple[str, ...] = ()  # the words or phrases that matched


def judge(
    text: str, probability: float | None = None, *, threshold: float | None = None
) -> Verdict:
    """Flag one text; see the module docstring. `probability`: the learned detector's score
    for it (`detector.scores`): it flags, at the detector's threshold, what the lists miss,
    and confirms the lists' stereotypes (`CONFIRM`); None: the word lists alone. `threshold`:
    the packaged detector's unless given."""
    toxic = _TOXIC.findall(text)
    if toxic:
        return Verdict("toxic", tuple(dict.fromkeys(w.lower() for w in toxic)))
    claims = []
    # a claim is about a group in its own sentence
    for sentence in data_checks.SENTENCE.split(text):
        if _GROUP.search(sentence):
            claims += [m.group(0) for p in _GENERAL for m in p.finditer(sentence)]
            claims += [m.group(0) for m in _TRAIT.finditer(sentence)]
    if claims and (probability is None or probability >= CONFIRM):
        return Verdict("stereotype", tuple(dict.fromkeys(c.lower() for c in claims)))
    if threshold is None and probability is not None:
        threshold = detector.load().threshold
    if probability is not None and threshold is not None and probability >= threshold:
        groups = tuple(dict.fromkeys(m.group(0).lower() for m in _GROUP.finditer(text)))
        kind = "stereotype" if groups else "toxic"
        return Verdict(kind, (*groups, f"detector {probability:.2f}"))
    return Verdict("")


def record_text(record: Record) -> str:
    """The words of a record the model would read (what its search text holds)."""
    return record.search_text


def audit_store(store: Store, namespace: str, task: str | None = None) -> list[Finding]:
    """Findings over the namespace's current records (of `task` and the knowledge it may read
    when a task is named), oldest first: stereotyped or toxic text, then feedback that skews
    by group and knowledge that contradicts itself (`data_checks`)."""
    records = [
        record
        for record in reversed(store.list(namespace, limit=None))
        if task is None or getattr(record, "task", None) in (None, task)
    ]
    if not records:
        return []
    found = detector.load()
    vectors = get_embedder(found.embedder).embed([record_text(r) for r in records])
    probabilities = found.probabilities(vectors)
    flagged = []
    for record, probability in zip(records, probabilities, strict=True):
        verdict = judge(record_text(record), float(probability), threshold=found.threshold)
        if verdict.kind:
            flagged.append(finding(record, namespace, verdict.kind, verdict.evidence))
    return [
        *flagged,
        *data_checks.feedback_skews(records, namespace),
        *data_checks.contradictions(records, vectors, namespace),
    ]
