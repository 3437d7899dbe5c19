"""The notices and letters an office issues along a case, drafted from templates kept as data.

Each document kind is one YAML file in ``data/documents`` (title, 文号 prefix, addressee, the
fields it needs with their names on screen, and its paragraphs with ``{field}`` placeholders), so
an office can reword a notice without touching code. The legal content the templates carry:

- 受理告知书 — 第二十三条: receipt, and the way and procedure the matter will be handled;
- 不予受理告知书 / 不再受理告知书 — the reason, the article, and where to turn instead
  (第十九条第三款, 第二十条, 第三十六条第三款 …);
- 转送函 / 交办单 — 第二十二条 (a 交办 names the date to report back, 第一款第三项), with the
  receiving body's duties under 第二十三条 (notice; objection within 5 working days);
- 投诉（举报）处理情况告知书 — 第三十一条第五项; remedies 行政复议 60日 (《行政复议法》第二十条) and
  行政诉讼 6个月 (《行政诉讼法》第四十六条);
- 信访事项处理意见书 — 第三十一条第六项 and 第三十二条 (request, facts and reasons, opinion, legal
  basis); remedy 复查 within 30 days (第三十五条). 行政复议 and 行政诉讼 are not offered against a
  信访处理意见: they are the remedies of a 履职 answer, and offering 复查 for that answer (or
  复议 for this one) misinforms the petitioner;
- 督办单 — 第四十条; 延期办理告知书 — 第三十四条 (the reason is told to the petitioner).

The flow: :func:`draft` fills a template from a plain mapping of case fields into a
:class:`Draft` the officer reviews and edits (:meth:`Draft.edit`); :func:`issue` gives it its
文号 (:func:`document_number`) and date; :func:`to_docx` and :func:`to_html` write the issued
document as a DOCX file and a printable page.

Personal particulars (第三十条第三款, 第四十六条第五项 protect an accuser; the rest is ordinary data
protection): which of the petitioner's particulars a kind may carry is fixed here in code, not in
the templates, so rewording a template cannot add them. A notice to the petitioner names the
petitioner; a 转送函 or 交办单 carries name, address and telephone because the receiving body must
write to the petitioner (第二十三条); a 督办单 carries none; no document carries the ID number.
Fields a template does not use are never read from the mapping.
"""

from __future__ import annotations

import datetime as dt
import functools
import html
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from casework.errors import DocumentError, TemplateError
from casework.periods import cn_date
from casework.states import Step
from routing.codes import Channel

DEFAULT_TEMPLATE_DIR = Path(__file__).resolve().parent.parent / "data" / "documents"

#: The document kinds an office issues along a case, with their names.
DOCUMENT_KINDS: dict[str, str] = {
    "acceptance_notice": "受理告知书",
    "not_accepted_notice": "不予受理告知书",
    "no_longer_accepted_notice": "不再受理告知书",
    "transfer_letter": "转送函",
    "assignment_sheet": "交办单",
    "complaint_outcome_notice": "投诉（举报）处理情况告知书",
    "handling_opinion": "信访事项处理意见书",
    "supervision_sheet": "督办单",
    "extension_notice": "延期办理告知书",
}

#: The document each step issues (the answer depends on the route: see :func:`document_kind_for`).
STEP_DOCUMENTS: dict[Step, str] = {
    Step.transfer: "transfer_letter",
    Step.assign: "assignment_sheet",
    Step.not_accept: "not_accepted_notice",
    Step.no_longer_accept: "no_longer_accepted_notice",
    Step.accept: "acceptance_notice",
    Step.extend: "extension_notice",
    Step.supervise: "supervision_sheet",
}

# The petitioner's particulars, and which a document kind may carry.
PETITIONER_NAME = "petitioner_name"
PETITIONER_ADDRESS = "petitioner_address"
PETITIONER_PHONE = "petitioner_phone"
PETITIONER_ID_NUMBER = "petitioner_id_number"
PERSONAL_FIELDS: frozenset[str] = frozenset(
    {PETITIONER_NAME, PETITIONER_ADDRESS, PETITIONER_PHONE, PETITIONER_ID_NUMBER}
)
_TO_PETITIONER = frozenset({PETITIONER_NAME})
_TO_BODY = frozenset({PETITIONER_NAME, PETITIONER_ADDRESS, PETITIONER_PHONE})
PARTICULARS_ALLOWED: dict[str, frozenset[str]] = {
    "acceptance_notice": _TO_PETITIONER,
    "not_accepted_notice": _TO_PETITIONER,
    "no_longer_accepted_notice": _TO_PETITIONER,
    "complaint_outcome_notice": _TO_PETITIONER,
    "handling_opinion": _TO_PETITIONER,
    "extension_notice": _TO_PETITIONER,
    "transfer_letter": _TO_BODY,
    "assignment_sheet": _TO_BODY,
    "supervision_sheet": frozenset(),
}

Recipient = Literal["petitioner", "body"]
_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_]*)\}")
_FIELD_NAME = re.compile(r"^[a-z_][a-z0-9_]*$")


def document_kind_for(step: Step, channel: str | None = None) -> str | None:
    """The document ``step`` issues on a case routed to ``channel``, or ``None`` when it issues none
    of these templates.

    An answer is a 信访事项处理意见书 only on the ordinary 信访 procedure (第三十一条第六项) and a
    投诉（举报）处理情况告知书 on a 履职申请 (第三十一条第五项); other routes answer in their own
    procedure's form.
    """
    if step == Step.answer:
        if channel == Channel.ordinary:
            return "handling_opinion"
        if channel == Channel.duty_request:
            return "complaint_outcome_notice"
        return None
    return STEP_DOCUMENTS.get(step)


# ----------------------------------------------------------------------------------- templates


class FieldSpec(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    label: str = Field(min_length=1)
    required: bool = True


class Template(BaseModel):
    """One document kind as ``data/documents/<kind>.yaml`` defines it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    kind: str
    title: str = Field(min_length=1)
    number_prefix: str = Field(min_length=1)
    recipient: Recipient
    basis: str = ""
    fields: dict[str, FieldSpec]
    salutation: str | None = None
    paragraphs: tuple[str, ...] = Field(min_length=1)
    signature: str = Field(min_length=1)

    @property
    def name(self) -> str:
        return DOCUMENT_KINDS.get(self.kind, self.title)


def _placeholders(text: str) -> list[str]:
    return _PLACEHOLDER.findall(text)


def _check_template(template: Template, source: str) -> None:
    def fail(message: str) -> TemplateError:
        return TemplateError(f"文书模板{source}：{message}")

    bad = [name for name in template.fields if not _FIELD_NAME.match(name)]
    if bad:
        raise fail(f"字段名只能用小写字母、数字和下划线：{'、'.join(bad)}")
    if re.search(r"\s|〔|〕", template.number_prefix):
        raise fail(f"文号前缀「{template.number_prefix}」不能含空白或六角括号")
    heads = [template.title, template.signature, template.salutation or ""]
    texts = [*heads, *template.paragraphs]
    for text in texts:
        if "{" in _PLACEHOLDER.sub("", text) or "}" in _PLACEHOLDER.sub("", text):
            raise fail(f"占位符写法有误（应为 {{字段名}}）：{text}")
    used = {name for text in texts for name in _placeholders(text)}
    undeclared = sorted(used - set(template.fields))
    if undeclared:
        raise fail(f"使用了未在 fields 中声明的字段：{'、'.join(undeclared)}")
    unused = sorted(set(template.fields) - used)
    if unused:
        raise fail(f"声明了未使用的字段：{'、'.join(unused)}")
    optional_in_heads = sorted(
        {name for text in heads for name in _placeholders(text) if not template.fields[name].required}
    )
    if optional_in_heads:
        raise fail(f"标题、称呼和落款只能使用必填字段：{'、'.join(optional_in_heads)}")
    default = _TO_PETITIONER if template.recipient == "petitioner" else _TO_BODY
    allowed = PARTICULARS_ALLOWED.get(template.kind, default)
    leaked = sorted((used & PERSONAL_FIELDS) - allowed)
    if leaked:
        who = "信访人" if template.recipient == "petitioner" else "承办单位"
        names = "、".join(template.fields[name].label for name in leaked)
        raise fail(f"「{template.name}」（致{who}）不得载明信访人的{names}")


def load_template(path: Path) -> Template:
    """Read and check one template file.

    Raises:
        TemplateError: the file is not a valid template, its ``kind`` is not its file name, a
            placeholder is undeclared or malformed, or it would carry particulars its kind may not.
    """
    try:
        raw: Any = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise TemplateError(f"文书模板{path.name}无法读取：{exc}") from exc
    if not isinstance(raw, dict):
        raise TemplateError(f"文书模板{path.name}应为一个 YAML 映射")
    try:
        template = Template.model_validate(raw)
    except ValidationError as exc:
        problems = "；".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise TemplateError(f"文书模板{path.name}格式有误：{problems}") from exc
    if template.kind != path.stem:
        raise TemplateError(f"文书模板{path.name}的 kind 应为「{path.stem}」，不是「{template.kind}」")
    _check_template(template, path.name)
    return template


@functools.lru_cache(maxsize=1)
def _default_templates() -> dict[str, Template]:
    return _load_dir(DEFAULT_TEMPLATE_DIR)


def _load_dir(directory: Path) -> dict[str, Template]:
    templates = {t.kind: t for t in (load_template(p) for p in sorted(directory.glob("*.yaml")))}
    missing = [DOCUMENT_KINDS[k] for k in DOCUMENT_KINDS if k not in templates]
    if missing:
        raise TemplateError(f"文书模板目录{directory}缺少：{'、'.join(missing)}")
    return templates


def load_templates(directory: Path | None = None) -> dict[str, Template]:
    """Every template in ``directory`` (default ``data/documents``, read once), by kind.

    An office may add kinds of its own; the nine of :data:`DOCUMENT_KINDS` must be there.
    """
    return dict(_default_templates()) if directory is None else _load_dir(directory)


def _template(kind: str, templates: Mapping[str, Template] | None) -> Template:
    table = templates if templates is not None else _default_templates()
    try:
        return table[kind]
    except KeyError:
        raise DocumentError(f"没有文书模板「{kind}」") from None


# ------------------------------------------------------------------------------------- drafting


@dataclass(frozen=True)
class Draft:
    """A filled document the officer reviews and may edit before it is issued."""

    kind: str
    title: str
    salutation: str | None
    paragraphs: tuple[str, ...]
    signature: str
    recipient: Recipient

    def edit(
        self,
        *,
        title: str | None = None,
        salutation: str | None = None,
        paragraphs: tuple[str, ...] | list[str] | None = None,
        signature: str | None = None,
    ) -> Draft:
        """The draft with the officer's changes; blank paragraphs are dropped.

        Raises:
            DocumentError: the title, the signature or the whole body would be empty.
        """
        new_title = (title if title is not None else self.title).strip()
        new_signature = (signature if signature is not None else self.signature).strip()
        body = tuple(p.strip() for p in (paragraphs if paragraphs is not None else self.paragraphs))
        body = tuple(p for p in body if p)
        new_salutation = (salutation if salutation is not None else self.salutation or "").strip() or None
        if not new_title:
            raise DocumentError("文书标题不能为空")
        if not new_signature:
            raise DocumentError("文书落款不能为空")
        if not body:
            raise DocumentError("文书正文不能为空")
        return Draft(self.kind, new_title, new_salutation, body, new_signature, self.recipient)


def _text(value: object, label: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool | dt.datetime):
        raise DocumentError(f"「{label}」应为文字、日期或整数")
    if isinstance(value, dt.date):
        return cn_date(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return value.strip() or None
    raise DocumentError(f"「{label}」应为文字、日期或整数")


def draft(
    kind: str, values: Mapping[str, object], *, templates: Mapping[str, Template] | None = None
) -> Draft:
    """Fill the ``kind`` template from ``values`` (case fields: text, dates, whole numbers).

    Only the fields the template declares are read, so extra particulars in ``values`` never reach
    the document. Dates are written 2026年10月9日. A paragraph whose optional field is absent is
    left out.

    Raises:
        DocumentError: a required field is absent or blank (all of them are named), a value has
            an unsupported type, or there is no such template.
    """
    template = _template(kind, templates)
    filled = {name: _text(values.get(name), spec.label) for name, spec in template.fields.items()}
    missing = [spec.label for name, spec in template.fields.items() if spec.required and filled[name] is None]
    if missing:
        raise DocumentError(f"「{template.name}」缺少：{'、'.join(missing)}")

    def fill(text: str) -> str:
        # one pass: a value that happens to contain {…} is written as it is, never filled again
        return _PLACEHOLDER.sub(lambda m: filled[m.group(1)] or "", text)

    paragraphs = tuple(
        fill(p) for p in template.paragraphs if all(filled[name] is not None for name in _placeholders(p))
    )
    return Draft(
        kind=template.kind,
        title=fill(template.title),
        salutation=fill(template.salutation) if template.salutation else None,
        paragraphs=paragraphs,
        signature=fill(template.signature),
        recipient=template.recipient,
    )


# -------------------------------------------------------------------------------------- issuing


def document_number(
    kind: str, *, office: str, year: int, seq: int, templates: Mapping[str, Template] | None = None
) -> str:
    """The 文号 of the ``seq``-th document with ``kind``'s prefix that ``office`` issues in ``year``,
    e.g. ``X信受告〔2026〕12号``. The caller keeps the sequence (unique per office, prefix and year).

    Raises:
        DocumentError: an empty office abbreviation, a year that is not four digits, or a
            sequence number below 1.
    """
    template = _template(kind, templates)
    office = office.strip()
    if not office or re.search(r"\s|〔|〕", office):
        raise DocumentError("机关代字不能为空，也不能含空白或六角括号")
    if not 1000 <= year <= 9999:
        raise DocumentError(f"年份应为四位数，不能为{year}")
    if seq < 1:
        raise DocumentError(f"文号序号从1开始，不能为{seq}")
    return f"{office}{template.number_prefix}〔{year}〕{seq}号"


@dataclass(frozen=True)
class IssuedDocument:
    """A document as issued: the officer's final text, its 文号 and its date (成文日期)."""

    kind: str
    title: str
    number: str
    salutation: str | None
    paragraphs: tuple[str, ...]
    signature: str
    issued_on: dt.date
    recipient: Recipient

    @property
    def date_line(self) -> str:
        return cn_date(self.issued_on)

    @property
    def lines(self) -> tuple[str, ...]:
        """Every line of the document in reading order, as the DOCX and the page show them."""
        head = (self.title, self.number, *((self.salutation,) if self.salutation else ()))
        return (*head, *self.paragraphs, self.signature, self.date_line)


def issue(
    draft: Draft, *, number: str, issued_on: dt.date, templates: Mapping[str, Template] | None = None
) -> IssuedDocument:
    """The reviewed ``draft`` issued under ``number`` on ``issued_on``.

    Raises:
        DocumentError: ``number`` is not a 文号 of the draft's kind (its prefix, 〔year〕 and 号).
    """
    template = _template(draft.kind, templates)
    pattern = rf"^\S+?{re.escape(template.number_prefix)}〔\d{{4}}〕[1-9]\d*号$"
    if not re.match(pattern, number):
        raise DocumentError(
            f"「{template.name}」的文号应形如「X{template.number_prefix}〔{issued_on.year}〕1号」，不是「{number}」"
        )
    return IssuedDocument(
        kind=draft.kind,
        title=draft.title,
        number=number,
        salutation=draft.salutation,
        paragraphs=draft.paragraphs,
        signature=draft.signature,
        issued_on=issued_on,
        recipient=draft.recipient,
    )


# --------------------------------------------------------------------------------------- output

# Layout after GB/T 9704-2012 (党政机关公文格式): A4, margins 37/26/35/28 mm, title in 2号小标宋
# (22 pt), body in 3号仿宋 (16 pt) with a two-character first-line indent, signature and date right.
_TITLE_FONT = "方正小标宋简体"
_BODY_FONT = "仿宋_GB2312"
_TITLE_PT = 22
_BODY_PT = 16

_PAGE_CSS = f"""
@page {{ size: A4; margin: 37mm 26mm 35mm 28mm; }}
body {{ font-family: "{_BODY_FONT}", "FangSong", "仿宋", "STFangsong", serif; font-size: {_BODY_PT}pt;
  line-height: 28pt; color: #000; max-width: 156mm; margin: 0 auto; }}
h1 {{ font-family: "{_TITLE_FONT}", "SimSun", "宋体", serif; font-size: {_TITLE_PT}pt;
  font-weight: normal; text-align: center; margin: 0 0 14pt; }}
p {{ margin: 0; text-indent: 2em; }}
p.number {{ text-align: center; text-indent: 0; margin-bottom: 14pt; }}
p.salutation {{ text-indent: 0; }}
p.signature {{ text-align: right; text-indent: 0; margin-top: 28pt; }}
p.date {{ text-align: right; text-indent: 0; }}
"""


def to_html(doc: IssuedDocument) -> str:
    """The issued document as a self-contained printable HTML page (every text escaped)."""
    e = html.escape

    def para(text: str, cls: str | None = None) -> str:
        attr = f' class="{cls}"' if cls else ""
        return f"<p{attr}>{e(text).replace(chr(10), '<br>')}</p>"

    body = [f"<h1>{e(doc.title)}</h1>", para(doc.number, "number")]
    if doc.salutation:
        body.append(para(doc.salutation, "salutation"))
    body.extend(para(p) for p in doc.paragraphs)
    body.extend([para(doc.signature, "signature"), para(doc.date_line, "date")])
    return (
        '<!DOCTYPE html>\n<html lang="zh-CN">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{e(doc.title)} {e(doc.number)}</title>\n<style>{_PAGE_CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def to_docx(doc: IssuedDocument) -> bytes:
    """The issued document as a DOCX file, to be stored exactly as issued.

    python-docx is imported here, not at the top, so that states, clocks and drafting work on an
    installation without it (the project lists it with the ``ocr`` extra).
    """
    import docx
    from docx.enum.text import WD_ALIGN_PARAGRAPH
    from docx.oxml.ns import qn
    from docx.shared import Mm, Pt

    document = docx.Document()
    section = document.sections[0]
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    document.core_properties.title = f"{doc.title} {doc.number}"

    def add(
        text: str, *, font: str = _BODY_FONT, size: int = _BODY_PT, align: Any = None, indent: bool
    ) -> None:
        paragraph = document.add_paragraph()
        if align is not None:
            paragraph.alignment = align
        if indent:
            paragraph.paragraph_format.first_line_indent = Pt(2 * size)
        run = paragraph.add_run(text)
        run.font.size = Pt(size)
        run.font.name = font
        # Word picks the East Asian font from w:eastAsia, which font.name does not set
        run._element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), font)

    add(doc.title, font=_TITLE_FONT, size=_TITLE_PT, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    add(doc.number, align=WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    if doc.salutation:
        add(doc.salutation, indent=False)
    for text in doc.paragraphs:
        add(text, indent=True)
    add(doc.signature, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    add(doc.date_line, align=WD_ALIGN_PARAGRAPH.RIGHT, indent=False)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def write_docx(doc: IssuedDocument, path: Path) -> Path:
    """Write :func:`to_docx`'s bytes to ``path`` and return it."""
    path.write_bytes(to_docx(doc))
    return path
