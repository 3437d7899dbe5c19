"""Train a real ``routing.router.Router`` on a dozen inline letters, for the web tests.

Unlike :data:`factories.TINY_LETTERS`, the accusations here are proposed for the housing bureau, so
the web tests can show that housing's own handler cannot open an accusation about it.
It goes through the same ``training.train.fit_model``, ``classifier.persistence.save_model`` and
``Router.load`` as the shipped model, so the web layer is exercised with genuine predictions,
evidence words and rule hits; the model is only tiny.
"""

from __future__ import annotations

from pathlib import Path

import factories

from routing.router import Router

WAGES = ("appeal", "劳动和社会保障", "hr_social_security", "arbitration")

# fmt: off
LETTERS: tuple[tuple[str, str, str, str, str], ...] = (
    # text, category, domain, department, channel
    ("小区物业公司乱收费，每月多收停车费，请求退还。", "appeal", "城乡建设", "housing", "ordinary"),
    ("物业不维修电梯，业主多次反映物业无人处理。", "appeal", "城乡建设", "housing", "ordinary"),
    ("物业公司擅自提高物业费，业主要求说明收费依据。", "appeal", "城乡建设", "housing", "ordinary"),
    ("开发商交房延期，房屋质量差，物业推诿。", "appeal", "城乡建设", "housing", "ordinary"),
    ("公司拖欠工资三个月，要求申请劳动仲裁。", *WAGES),
    ("老板拖欠农民工工资，工人讨薪无果，申请劳动仲裁。", *WAGES),
    ("单位不签劳动合同，拖欠工资和加班费。", *WAGES),
    ("工厂辞退员工不给经济补偿，拖欠工资。", *WAGES),
    ("举报住建局科长收受开发商贿赂，违规审批。", "accusation", "城乡建设", "housing", "discipline"),
    ("举报街道干部挪用维修资金，收受好处。", "accusation", "城乡建设", "housing", "discipline"),
    ("检举某局领导贪污公款，滥用职权。", "accusation", "城乡建设", "housing", "discipline"),
    ("举报物业监管人员收受贿赂，包庇违规物业公司。", "accusation", "城乡建设", "housing", "discipline"),
)
# fmt: on


def train_tiny_router(folder: Path) -> Router:
    """Fit, save and load a router on :data:`LETTERS`; ``folder`` receives the model files."""
    return factories.train_tiny_router(folder, LETTERS)
