# ruff: noqa: E501  (a table of letters, one per line)
"""A tiny labelled corpus written as the shared data files, for training tests that must be fast."""

from __future__ import annotations

import csv
import json
from pathlib import Path

# fmt: off
#: id, title, text, category, domain, department, channel
TINY: tuple[tuple[str, str, str, str, str, str, str], ...] = (
    ("h1", "物业乱收费", "小区物业公司乱收费，每月多收停车费，请求退还。", "appeal", "城乡建设", "housing", "ordinary"),
    ("h2", "电梯坏了", "物业不维修电梯，业主多次反映物业无人处理。", "appeal", "城乡建设", "housing", "ordinary"),
    ("h3", "物业费上涨", "物业公司擅自提高物业费，业主要求说明收费依据。", "appeal", "城乡建设", "housing", "ordinary"),
    ("h4", "交房延期", "开发商交房延期，房屋质量差，物业推诿。", "appeal", "城乡建设", "housing", "ordinary"),
    ("h5", "小区绿化", "物业把小区绿地改成停车位，业主不同意。", "appeal", "城乡建设", "housing", "ordinary"),
    ("h6", "楼道漏水", "楼道屋顶漏水一个月，物业一直不来维修。", "appeal", "城乡建设", "housing", "ordinary"),
    ("w1", "拖欠工资", "公司拖欠工资三个月，要求申请劳动仲裁。", "appeal", "劳动和社会保障", "hr_social_security", "arbitration"),
    ("w2", "讨薪", "老板拖欠农民工工资，工人讨薪无果，申请劳动仲裁。", "appeal", "劳动和社会保障", "hr_social_security", "arbitration"),
    ("w3", "劳动合同", "单位不签劳动合同，拖欠工资和加班费。", "appeal", "劳动和社会保障", "hr_social_security", "arbitration"),
    ("w4", "辞退补偿", "工厂辞退员工不给经济补偿，拖欠工资。", "appeal", "劳动和社会保障", "hr_social_security", "arbitration"),
    ("w5", "社保断缴", "公司不给员工缴纳社保，还拖欠两个月工资。", "appeal", "劳动和社会保障", "hr_social_security", "arbitration"),
    ("w6", "加班费", "工厂长期加班不给加班费，工资被克扣。", "appeal", "劳动和社会保障", "hr_social_security", "arbitration"),
    ("a1", "举报科长", "举报住建局科长收受开发商贿赂，违规审批。", "accusation", "城乡建设", "discipline_inspection", "discipline"),
    ("a2", "挪用资金", "举报街道干部挪用维修资金，收受好处。", "accusation", "城乡建设", "discipline_inspection", "discipline"),
    ("a3", "贪污公款", "检举某局领导贪污公款，滥用职权。", "accusation", "城乡建设", "discipline_inspection", "discipline"),
    ("a4", "包庇物业", "举报物业监管人员收受贿赂，包庇违规物业公司。", "accusation", "城乡建设", "discipline_inspection", "discipline"),
    ("a5", "村支书", "举报村支书侵占集体土地补偿款，优亲厚友。", "accusation", "城乡建设", "discipline_inspection", "discipline"),
    ("a6", "截留补贴", "检举镇干部截留危房改造补贴，索要好处费。", "accusation", "城乡建设", "discipline_inspection", "discipline"),
    ("s1", "增设公交站", "建议在小区门口增设公交站，方便居民出行。", "suggestion", "交通运输", "transport", "suggestion"),
    ("s2", "夜班车", "建议延长公交线路运营时间，增加夜班车。", "suggestion", "交通运输", "transport", "suggestion"),
    ("s3", "优化线路", "关于优化公交线路的建议，希望增加班次。", "suggestion", "交通运输", "transport", "suggestion"),
    ("s4", "地铁换乘", "建议地铁站增加换乘指引，方便乘客。", "suggestion", "交通运输", "transport", "suggestion"),
    ("s5", "共享单车", "建议规范共享单车停放，设置停车区域。", "suggestion", "交通运输", "transport", "suggestion"),
    ("s6", "公交专用道", "建议主干道设置公交专用道，提高公交速度。", "suggestion", "交通运输", "transport", "suggestion"),
)
# fmt: on

TINY_SEED = 10
TINY_OVERRIDES: tuple[str, ...] = (
    "features.min_df=1",
    "data.duty_examples=false",
    "split.test_size=0.25",
    f"split.seed={TINY_SEED}",
    "model.n_jobs=1",
    # 24 letters cannot make every rule fire; the strict check is tested on the shared letters
    "rules.check=warn",
    *(f"heads.{h}.calibration_cv=2" for h in ("category", "domain", "department", "channel")),
)


def write_tiny_data(folder: Path, rows: tuple[tuple[str, ...], ...] = TINY) -> Path:
    """Write ``rows`` as ``messages.csv`` and ``annotations.jsonl`` in ``folder`` (each letter its own group)."""
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "messages.csv").open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["id", "message_no", "time", "title", "text", "domain", "group"])
        for n, (id_, title, text, _c, domain, _d, _ch) in enumerate(rows):
            writer.writerow([id_, n, "2026/1/1 09:00:00", title, text, domain, f"g-{id_}"])
    with (folder / "annotations.jsonl").open("w", encoding="utf-8") as f:
        for id_, _t, _x, category, _dom, department, channel in rows:
            record = {"id": id_, "category": category, "department": department, "channel": channel}
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    return folder
