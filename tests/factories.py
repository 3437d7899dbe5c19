"""Plain factory functions shared by the test packages: letters, scores, a tiny trained router."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from classifier.model import TriageModel
from classifier.persistence import save_model
from classifier.segment import DEFAULT_USER_DICT
from routing.codes import DOMAINS
from routing.proposal import Scores
from routing.router import Router
from routing.schemas import LegalBasis, Letter, RuleHit
from training.config import DEFAULT_CONFIG, dump_toml, load_config
from training.datasets import Example
from training.train import fit_model

# fmt: off
TINY_LETTERS: tuple[tuple[str, str, str, str, str], ...] = (
    # text, category, domain, department, channel
    ("小区物业公司乱收费，每月多收停车费，请求退还。", "appeal", "城乡建设", "housing", "ordinary"),
    ("物业不维修电梯，业主多次反映物业无人处理。", "appeal", "城乡建设", "housing", "ordinary"),
    ("物业公司擅自提高物业费，业主要求说明收费依据。", "appeal", "城乡建设", "housing", "ordinary"),
    ("开发商交房延期，房屋质量差，物业推诿。", "appeal", "城乡建设", "housing", "ordinary"),
    ("公司拖欠工资三个月，要求申请劳动仲裁。", "appeal", "劳动和社会保障", "hr_social_security", "arbitration"),
    ("老板拖欠农民工工资，工人讨薪无果，申请劳动仲裁。", "appeal", "劳动和社会保障", "hr_social_security", "arbitration"),
    ("单位不签劳动合同，拖欠工资和加班费。", "appeal", "劳动和社会保障", "hr_social_security", "arbitration"),
    ("工厂辞退员工不给经济补偿，拖欠工资。", "appeal", "劳动和社会保障", "hr_social_security", "arbitration"),
    ("举报住建局科长收受开发商贿赂，违规审批。", "accusation", "城乡建设", "discipline_inspection", "discipline"),
    ("举报街道干部挪用维修资金，收受好处。", "accusation", "城乡建设", "discipline_inspection", "discipline"),
    ("检举某局领导贪污公款，滥用职权。", "accusation", "城乡建设", "discipline_inspection", "discipline"),
    ("举报物业监管人员收受贿赂，包庇违规物业公司。", "accusation", "城乡建设", "discipline_inspection", "discipline"),
    ("建议在小区门口增设公交站，方便居民出行。", "suggestion", "交通运输", "transport", "suggestion"),
    ("建议延长公交线路运营时间，增加夜班车。", "suggestion", "交通运输", "transport", "suggestion"),
    ("关于优化公交线路的建议，希望增加班次。", "suggestion", "交通运输", "transport", "suggestion"),
)
# fmt: on

TINY_OVERRIDES = (
    "features.min_df=1",
    "data.duty_examples=false",
    *(f"heads.{h}.calibration_cv=2" for h in ("category", "domain", "department", "channel")),
)


Labelled = tuple[str, str, str, str, str]  # text, category, domain, department, channel


def tiny_examples(letters: Sequence[Labelled] = TINY_LETTERS) -> list[Example]:
    return [
        Example(
            id=f"t{i}",
            title="",
            text=text,
            group=f"g{i}",
            domain=domain,
            category=category,
            department=department,
            channel=channel,
        )
        for i, (text, category, domain, department, channel) in enumerate(letters)
    ]


def train_tiny_model(version: str = "tiny-test", letters: Sequence[Labelled] = TINY_LETTERS) -> TriageModel:
    return fit_model(tiny_examples(letters), load_config(DEFAULT_CONFIG, TINY_OVERRIDES), version=version)


def save_tiny_model(folder: Path, model: TriageModel | None = None) -> Path:
    model = model or train_tiny_model()
    config = load_config(DEFAULT_CONFIG, TINY_OVERRIDES)
    return save_model(
        model,
        folder,
        config_text=dump_toml(config),
        userdict_text=Path(DEFAULT_USER_DICT).read_text(encoding="utf-8"),
    )


def train_tiny_router(folder: Path, letters: Sequence[Labelled] = TINY_LETTERS) -> Router:
    """Fit, save and load a router on ``letters``; ``folder`` receives the model files."""
    return Router.load(save_tiny_model(folder, train_tiny_model(letters=letters)))


def make_letter(text: str = "小区物业乱收停车费，请住建局查处。", **fields: object) -> Letter:
    return Letter(text=text, **fields)  # type: ignore[arg-type]


def make_scores(
    category: Mapping[str, float] | None = None,
    department: Mapping[str, float] | None = None,
    channel: Mapping[str, float] | None = None,
    domain: Mapping[str, float] | None = None,
) -> Scores:
    """Classifier scores for the pure proposal function; unspecified heads are confident."""
    return Scores(
        proba={
            "category": category or {"appeal": 0.9, "suggestion": 0.05, "accusation": 0.05},
            "domain": domain
            or {d: (0.9 if i == 0 else 0.1 / (len(DOMAINS) - 1)) for i, d in enumerate(DOMAINS)},
            "department": department
            or {"housing": 0.8, "urban_management": 0.15, "discipline_inspection": 0.05},
            "channel": channel
            or {"duty_request": 0.7, "ordinary": 0.2, "discipline": 0.05, "suggestion": 0.05},
        }
    )


def make_hit(
    rule_id: str = "R-TEST-1",
    *,
    kind: str = "channel",
    channel: str | None = "litigation",
    disposition: str | None = None,
    flags: Sequence[str] = (),
    priority: int = 50,
    target_body: str | None = None,
) -> RuleHit:
    return RuleHit(
        rule_id=rule_id,
        title="测试规则",
        kind=kind,
        channel=channel,  # type: ignore[arg-type]
        disposition=disposition,
        target_body=target_body,
        flags=tuple(flags),
        priority=priority,
        legal_basis=LegalBasis(article="第三十一条", quote="按照法律法规规定的程序处理"),
        field="text",
        start=0,
        end=2,
        matched="起诉",
    )
