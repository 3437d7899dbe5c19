"""Documents: templates as data, drafting with particulars only where needed, 文号, DOCX and HTML."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import docx
import pytest
from docx.oxml.ns import qn

from casework.documents import (
    DEFAULT_TEMPLATE_DIR,
    DOCUMENT_KINDS,
    PARTICULARS_ALLOWED,
    Draft,
    document_kind_for,
    document_number,
    draft,
    issue,
    load_templates,
    to_html,
    write_docx,
)
from casework.errors import DocumentError, TemplateError
from casework.periods import conclude_due
from casework.states import Step

D = dt.date
ID_NUMBER = "110101199003071234"
PHONE = "13800138000"
ADDRESS = "某市某区幸福路8号3单元502室"

#: Everything a case may know, the particulars included: each kind takes only what it declares.
CASE_FIELDS: dict[str, object] = {
    "case_no": "XF2026-000123",
    "petitioner_name": "张某某",
    "petitioner_id_number": ID_NUMBER,
    "petitioner_phone": PHONE,
    "petitioner_address": ADDRESS,
    "subject": "小区地下车库长期积水",
    "received_on": D(2026, 9, 16),
    "accepted_on": D(2026, 9, 22),
    "transferred_on": D(2026, 9, 18),
    "handling_body": "某区住房和城乡建设局",
    "issuer": "某区人民政府信访局",
    "procedure": "本机关将调查核实后，依照《信访工作条例》第三十一条第六项的规定出具信访处理意见书。",
    "inquiry": "某区信访信息系统",
    "reason": "该事项已由某街道办事处受理且正在办理期限内",
    "article": "《信访工作条例》第十九条第三款",
    "where_to_turn": "向某街道办事处了解办理进展",
    "report_due": D(2026, 10, 30),
    "findings": "经现场核查，该企业夜间施工未办理夜间施工许可",
    "outcome": "已责令停止夜间施工并依法立案查处",
    "review_authority": "某区人民政府",
    "court": "某区人民法院",
    "request": "请求维修车库排水设施",
    "facts": "车库排水泵损坏，物业未及时维修",
    "opinion": "支持你的请求，责成物业服务企业于30日内完成维修",
    "legal_basis": "《物业管理条例》第三十五条",
    "review_body": "某市住房和城乡建设局",
    "situation": "已超过办理期限，尚未办结",
    "new_due": D(2026, 11, 20),
    "original_due": D(2026, 11, 23),
    "extension_days": 20,
}


def every_draft() -> dict[str, Draft]:
    return {kind: draft(kind, CASE_FIELDS) for kind in DOCUMENT_KINDS}


def text_of(d: Draft) -> str:
    return "\n".join([d.title, d.salutation or "", *d.paragraphs, d.signature])


def test_every_kind_has_a_template_whose_prefix_makes_its_document_number() -> None:
    templates = load_templates()
    assert set(templates) == set(DOCUMENT_KINDS) == set(PARTICULARS_ALLOWED)
    assert document_number("acceptance_notice", office="X", year=2026, seq=12) == "X信受告〔2026〕12号"
    prefixes = [t.number_prefix for t in templates.values()]
    assert len(set(prefixes)) == len(prefixes)  # one sequence per prefix never collides across kinds
    for kind, template in templates.items():
        assert (
            document_number(kind, office="某区信访", year=2027, seq=1)
            == f"某区信访{template.number_prefix}〔2027〕1号"
        )


@pytest.mark.parametrize(
    ("office", "year", "seq", "message"),
    [
        ("", 2026, 1, "机关代字不能为空"),
        ("X Y", 2026, 1, "不能含空白"),
        ("X", 26, 1, "年份应为四位数，不能为26"),
        ("X", 2026, 0, "文号序号从1开始，不能为0"),
    ],
)
def test_a_document_number_needs_an_office_a_year_and_a_sequence(
    office: str, year: int, seq: int, message: str
) -> None:
    with pytest.raises(DocumentError, match=message):
        document_number("transfer_letter", office=office, year=year, seq=seq)


# -------------------------------------------------------------------------------- particulars


def test_no_document_carries_the_id_number_and_each_only_the_particulars_it_needs() -> None:
    drafts = every_draft()
    for kind, d in drafts.items():
        text = text_of(d)
        assert ID_NUMBER not in text, kind
        assert (PHONE in text) == (kind in ("transfer_letter", "assignment_sheet")), kind
        assert (ADDRESS in text) == (kind in ("transfer_letter", "assignment_sheet")), kind
        assert ("张某某" in text) == (kind != "supervision_sheet"), kind
    # a notice to the petitioner is addressed to them by name; a letter to a body to the body
    assert drafts["acceptance_notice"].salutation == "张某某："
    assert drafts["transfer_letter"].salutation == "某区住房和城乡建设局："
    assert drafts["supervision_sheet"].recipient == "body"


def copy_templates(tmp_path: Path) -> Path:
    target = tmp_path / "documents"
    shutil.copytree(DEFAULT_TEMPLATE_DIR, target)
    return target


def test_a_template_edited_to_carry_the_id_number_is_refused(tmp_path: Path) -> None:
    directory = copy_templates(tmp_path)
    path = directory / "transfer_letter.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace(
        "  issuer: {label: 落款单位}",
        "  petitioner_id_number: {label: 公民身份号码}\n  issuer: {label: 落款单位}",
    )
    text = text.replace(
        "  - 附件：{attachments}", "  - 附件：{attachments}\n  - 身份证号：{petitioner_id_number}"
    )
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError, match="「转送函」（致承办单位）不得载明信访人的公民身份号码"):
        load_templates(directory)


def test_a_notice_to_the_petitioner_may_not_be_edited_to_carry_their_telephone(tmp_path: Path) -> None:
    directory = copy_templates(tmp_path)
    path = directory / "acceptance_notice.yaml"
    text = path.read_text(encoding="utf-8").replace(
        "  issuer: {label: 落款单位}", "  petitioner_phone: {label: 联系电话}\n  issuer: {label: 落款单位}"
    )
    text = text.replace("  - 特此告知。", "  - 联系电话：{petitioner_phone}\n  - 特此告知。")
    path.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateError, match="不得载明信访人的联系电话"):
        load_templates(directory)


# ---------------------------------------------------------------------------------- templates


def test_an_office_rewords_a_notice_without_code(tmp_path: Path) -> None:
    directory = copy_templates(tmp_path)
    path = directory / "acceptance_notice.yaml"
    path.write_text(
        path.read_text(encoding="utf-8").replace("  - 特此告知。", "  - 特此告知，感谢你对我们工作的支持。"),
        encoding="utf-8",
    )
    reworded = draft("acceptance_notice", CASE_FIELDS, templates=load_templates(directory))
    assert reworded.paragraphs[-1] == "特此告知，感谢你对我们工作的支持。"
    assert draft("acceptance_notice", CASE_FIELDS).paragraphs[-1] == "特此告知。"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("  - 特此告知。", "  - 特此告知{signed_by}。", "使用了未在 fields 中声明的字段：signed_by"),
        ("  - 特此告知。", "  - 特此告知{ 。", "占位符写法有误"),
        (
            "  issuer: {label: 落款单位}",
            "  stamp: {label: 印章}\n  issuer: {label: 落款单位}",
            "声明了未使用的字段：stamp",
        ),
        ("kind: acceptance_notice", "kind: acceptance", "kind 应为「acceptance_notice」"),
        ("number_prefix: 信受告", "number_prefix: 信 受告", "文号前缀「信 受告」不能含空白"),
        ("recipient: petitioner", "recipient: public", "格式有误"),
        (
            'signature: "{issuer}"',
            'signature: "{issuer}{inquiry}"',
            "标题、称呼和落款只能使用必填字段：inquiry",
        ),
    ],
    ids=["undeclared", "brace", "unused-declared", "kind", "prefix", "recipient", "optional-in-signature"],
)
def test_a_malformed_template_is_refused_with_its_file_named(
    tmp_path: Path, old: str, new: str, message: str
) -> None:
    directory = copy_templates(tmp_path)
    path = directory / "acceptance_notice.yaml"
    text = path.read_text(encoding="utf-8")
    assert old in text
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(TemplateError, match=message) as refused:
        load_templates(directory)
    assert "acceptance_notice.yaml" in str(refused.value)


def test_a_template_directory_missing_a_kind_is_refused(tmp_path: Path) -> None:
    directory = copy_templates(tmp_path)
    (directory / "supervision_sheet.yaml").unlink()
    with pytest.raises(TemplateError, match="缺少：督办单"):
        load_templates(directory)


# ----------------------------------------------------------------------------------- drafting


def test_a_missing_field_is_named_in_chinese() -> None:
    with pytest.raises(DocumentError) as refused:
        draft(
            "not_accepted_notice",
            {"petitioner_name": "张某某", "reason": "  ", "received_on": D(2026, 9, 16)},
        )
    assert str(refused.value) == (
        "「不予受理告知书」缺少：登记编号、反映的问题、不予受理的理由、依据条款、应当向何处提出、落款单位"
    )
    with pytest.raises(DocumentError, match="没有文书模板「receipt」"):
        draft("receipt", CASE_FIELDS)
    with pytest.raises(DocumentError, match="「收到日期」应为文字、日期或整数"):
        draft("acceptance_notice", {**CASE_FIELDS, "received_on": dt.datetime(2026, 9, 16, 9, 0)})


def test_a_refusal_notice_gives_the_reason_the_article_and_where_to_turn() -> None:
    d = every_draft()["not_accepted_notice"]
    assert d.title == "信访事项不予受理告知书"
    assert d.paragraphs == (
        "本机关（单位）于2026年9月16日收到你反映小区地下车库长期积水的信访事项（登记编号：XF2026-000123）。"
        "经审查，该事项已由某街道办事处受理且正在办理期限内。根据《信访工作条例》第十九条第三款的规定，"
        "本机关（单位）不予受理。",
        "你可以向某街道办事处了解办理进展。",
        "特此告知。",
    )
    assert d.signature == "某区人民政府信访局"


def test_an_optional_paragraph_is_left_out_when_its_field_is_absent() -> None:
    without = {k: v for k, v in CASE_FIELDS.items() if k != "inquiry"}
    assert (
        len(draft("acceptance_notice", without).paragraphs)
        == len(every_draft()["acceptance_notice"].paragraphs) - 1
    )
    final = draft(
        "no_longer_accepted_notice",
        {
            **CASE_FIELDS,
            "final_on": D(2026, 7, 15),
            "final_body": "某市人民政府信访局",
            "earlier_case_no": "XF2026-000007",
        },
    )
    assert (
        "该事项已于2026年7月15日由某市人民政府信访局出具复核意见（原案登记编号：XF2026-000007）。"
        in final.paragraphs
    )
    assert not any("复核意见" in p for p in every_draft()["no_longer_accepted_notice"].paragraphs)


def test_the_handling_opinion_offers_review_and_the_duty_answer_offers_reconsideration_and_suit() -> None:
    drafts = every_draft()
    opinion = "".join(drafts["handling_opinion"].paragraphs)
    for part in (
        "投诉请求：请求维修车库排水设施",
        "事实和理由：",
        "处理意见：支持你的请求",
        "法律法规依据：《物业管理条例》",
    ):
        assert part in opinion
    assert (
        "可以自收到本意见书之日起30日内向某市住房和城乡建设局请求复查（《信访工作条例》第三十五条）"
        in opinion
    )
    assert "行政复议" not in opinion and "行政诉讼" not in opinion
    duty = "".join(drafts["complaint_outcome_notice"].paragraphs)
    assert "60日内向某区人民政府申请行政复议" in duty and "6个月内向某区人民法院提起行政诉讼" in duty
    assert "复查" not in duty


def test_the_extension_notice_carries_the_clocks_dates_and_its_reason() -> None:
    accepted = D(2026, 9, 22)
    original, _ = conclude_due(accepted)  # day 60 is Sat 21 Nov: Mon 23 Nov
    extended, _ = conclude_due(accepted, 20)  # day 80 is Fri 11 Dec
    d = draft(
        "extension_notice",
        {
            **CASE_FIELDS,
            "accepted_on": accepted,
            "original_due": original,
            "new_due": extended,
            "extension_days": 20,
            "reason": "需要委托第三方机构检测排水设施",
        },
    )
    assert d.paragraphs[:2] == (
        "本机关（单位）于2026年9月22日受理你反映小区地下车库长期积水的信访事项（登记编号：XF2026-000123），"
        "依照《信访工作条例》第三十四条的规定，应于2026年11月23日前办结。",
        "因需要委托第三方机构检测排水设施，经本机关（单位）负责人批准，办理期限延长20日，至2026年12月11日。",
    )


def test_the_supervision_and_assignment_sheets_name_the_date_to_report_back() -> None:
    drafts = every_draft()
    assert "请你单位于2026年11月20日前办结" in "".join(drafts["supervision_sheet"].paragraphs)
    assert "督办事由：" in drafts["supervision_sheet"].paragraphs[1]
    assert "请于2026年10月30日前将办理结果反馈本机关" in "".join(drafts["assignment_sheet"].paragraphs)


def test_a_value_is_written_as_given_and_never_filled_again() -> None:
    d = draft("acceptance_notice", {**CASE_FIELDS, "subject": "{case_no}的问题"})
    assert "你反映{case_no}的问题的信访事项" in d.paragraphs[0]


def test_the_officer_edits_a_draft_before_issuing() -> None:
    d = every_draft()["acceptance_notice"]
    edited = d.edit(paragraphs=[*d.paragraphs[:-1], "  ", "如有疑问，请致电本机关。", "特此告知。"])
    assert edited.paragraphs[-2:] == ("如有疑问，请致电本机关。", "特此告知。")
    assert "  " not in edited.paragraphs and edited.title == d.title
    with pytest.raises(DocumentError, match="文书正文不能为空"):
        d.edit(paragraphs=[" "])
    with pytest.raises(DocumentError, match="文书标题不能为空"):
        d.edit(title="")


def test_a_draft_is_issued_only_under_a_number_of_its_kind() -> None:
    d = every_draft()["acceptance_notice"]
    with pytest.raises(
        DocumentError, match="「受理告知书」的文号应形如「X信受告〔2026〕1号」，不是「X信转〔2026〕3号」"
    ):
        issue(d, number="X信转〔2026〕3号", issued_on=D(2026, 9, 22))
    with pytest.raises(DocumentError):
        issue(d, number="X信受告〔2026〕0号", issued_on=D(2026, 9, 22))
    doc = issue(d, number="X信受告〔2026〕12号", issued_on=D(2026, 9, 22))
    assert (doc.number, doc.date_line, doc.lines[0], doc.lines[-1]) == (
        "X信受告〔2026〕12号",
        "2026年9月22日",
        "信访事项受理告知书",
        "2026年9月22日",
    )


def test_each_step_names_the_document_it_issues() -> None:
    assert document_kind_for(Step.answer, "ordinary") == "handling_opinion"
    assert document_kind_for(Step.answer, "duty_request") == "complaint_outcome_notice"
    assert document_kind_for(Step.answer, "litigation") is None
    assert document_kind_for(Step.not_accept) == "not_accepted_notice"
    assert document_kind_for(Step.supervise) == "supervision_sheet"
    assert document_kind_for(Step.receive) is None


# ------------------------------------------------------------------------------------- output


def test_an_issued_document_round_trips_through_docx(tmp_path: Path) -> None:
    drafted = every_draft()["handling_opinion"]
    doc = issue(drafted, number="X信处意〔2026〕5号", issued_on=D(2026, 11, 2))
    path = write_docx(doc, tmp_path / "opinion.docx")
    read = docx.Document(str(path))
    assert tuple(p.text for p in read.paragraphs) == doc.lines
    assert read.core_properties.title == "信访事项处理意见书 X信处意〔2026〕5号"
    title_run = read.paragraphs[0].runs[0]
    assert title_run._element.rPr.rFonts.get(qn("w:eastAsia")) == "方正小标宋简体"
    body = read.paragraphs[3]
    assert body.runs[0]._element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋_GB2312"
    assert (
        body.paragraph_format.first_line_indent is not None
        and body.paragraph_format.first_line_indent.pt == 32
    )
    assert read.paragraphs[2].paragraph_format.first_line_indent is None  # the salutation is not indented


def test_an_issued_document_prints_as_an_escaped_html_page() -> None:
    drafted = draft("acceptance_notice", {**CASE_FIELDS, "subject": "<script>alert(1)</script>噪音扰民"})
    page = to_html(issue(drafted, number="X信受告〔2026〕13号", issued_on=D(2026, 9, 22)))
    assert page.startswith('<!DOCTYPE html>\n<html lang="zh-CN">')
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;噪音扰民" in page
    assert '<p class="number">X信受告〔2026〕13号</p>' in page
    assert '<p class="salutation">张某某：</p>' in page
    assert '<p class="date">2026年9月22日</p>' in page
    assert "@page { size: A4;" in page
