"""The pipeline every shell calls: letters in, route proposals out.

``Router.propose_many`` is the only implementation; ``Router.propose`` is its one-letter form, so
the API, the batch triage and evaluation all run the same code path.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from classifier.features import letter_text
from classifier.model import TriageModel
from classifier.normalize import han_count
from classifier.persistence import load_model
from routing.catalogue import DEFAULT_CATALOGUE, Catalogue, load_catalogue
from routing.engine import match_rules_many
from routing.proposal import ProposalConfig, Scores, propose
from routing.rulebook import Rulebook, load_rulebook
from routing.schemas import Letter, ReviewReason, RouteProposal

EVIDENCE_HEADS = ("category", "domain", "department", "channel")


def input_problems(letter: Letter, config: ProposalConfig, max_chars: int) -> list[ReviewReason]:
    """What makes a letter unfit for a confident route, before any model looks at it."""
    body = letter_text(letter.title, letter.text)
    if not body.strip():
        return [ReviewReason(code="empty_text", message="信件没有正文，无法分类，请人工登记")]
    problems: list[ReviewReason] = []
    if not letter.text.strip():
        problems.append(ReviewReason(code="too_short", message="只有标题，没有正文，请核对原件"))
    han = han_count(body[:max_chars])
    if han == 0:
        problems.append(ReviewReason(code="no_chinese", message="信件不含汉字，可能是编码错误或非中文信件"))
    elif han < config.min_han_chars:
        problems.append(ReviewReason(code="too_short", message=f"正文过短（{han}个汉字），请人工判断"))
    if len(body) > max_chars:
        problems.append(
            ReviewReason(code="truncated", message=f"信件过长（{len(body)}字），只分析了前{max_chars}字")
        )
    return problems


@dataclass
class Router:
    """A loaded model, rulebook and catalogue, with the proposal thresholds.

    Build one per process with :meth:`load`; it is read-only afterwards and safe to share across
    threads.
    """

    model: TriageModel
    rulebook: Rulebook
    catalogue: Catalogue
    config: ProposalConfig = field(default_factory=ProposalConfig)
    max_chars: int = 200_000
    evidence_k: int = 5

    @classmethod
    def load(
        cls,
        model_dir: Path,
        *,
        rulebook_dir: Path | None = None,
        catalogue_path: Path = DEFAULT_CATALOGUE,
        config: ProposalConfig | None = None,
        max_chars: int = 200_000,
    ) -> Router:
        return cls(
            model=load_model(Path(model_dir)),
            rulebook=load_rulebook(rulebook_dir),
            catalogue=load_catalogue(catalogue_path),
            config=config or ProposalConfig(),
            max_chars=max_chars,
        )

    def propose(self, letter: Letter) -> RouteProposal:
        return self.propose_many([letter])[0]

    def propose_many(self, letters: Sequence[Letter]) -> list[RouteProposal]:
        """Route a batch of letters; element ``i`` of the result belongs to ``letters[i]``."""
        if not letters:
            return []
        # Long letters are cut before anything else so a 1 MB paste cannot stall the pipeline;
        # the proposal says it was cut.
        clipped = [
            letter
            if len(letter.title) + len(letter.text) <= self.max_chars
            else letter.model_copy(
                update={"title": letter.title[:1000], "text": letter.text[: self.max_chars]}
            )
            for letter in letters
        ]
        X = self.model.transform([letter_text(x.title, x.text) for x in clipped])
        outputs = self.model.predict_heads(X)
        all_hits = match_rules_many(self.rulebook, clipped)
        # Each head explains its own top-1 (the first of equal maxima, in the head's class order).
        chosen = {
            head: [outputs[head].classes[j] for j in np.argmax(outputs[head].proba, axis=1)]
            for head in EVIDENCE_HEADS
        }
        evidence = self.model.strongest_features_many(X, chosen, self.evidence_k)
        rows = {h: out.proba.tolist() for h, out in outputs.items()}
        proposals = []
        for i, (original, letter) in enumerate(zip(letters, clipped, strict=True)):
            proba = {h: dict(zip(out.classes, rows[h][i], strict=True)) for h, out in outputs.items()}
            proposals.append(
                propose(
                    letter,
                    all_hits[i],
                    # Built from the model's own arrays, already of the declared types.
                    Scores.model_construct(proba=proba, evidence=evidence[i]),
                    catalogue=self.catalogue,
                    config=self.config,
                    model_version=self.model.version,
                    rulebook_version=self.rulebook.version,
                    input_problems=input_problems(original, self.config, self.max_chars),
                )
            )
        return proposals


__all__ = ["Router", "input_problems"]
