"""Rendering of the officers' pages: the template environment, its filters, and the error page.

Templates autoescape everything; the only unescaped output is the QR code's SVG, which is made by
``segno`` from a case number the store generated (``XF-2026-000123``), never from user input.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from fastapi.templating import Jinja2Templates

from api.presenters import UNIT_NAMES
from classifier.facts import FACT_NAMES as _FACT_NAMES
from routing.codes import CATEGORY_NAMES, CHANNEL_NAMES, DISPOSITION_NAMES
from routing.schemas import SEVERAL_MATTERS_REASONS
from service.access import ROLE_NAMES
from service.security import new_csrf_token
from store.models import FORM_NAMES

STATUS_NAMES = {"pending": "待处理", "decided": "已确认", "merged": "已合并"}
FIELD_NAMES = {
    "category": "类别",
    "domain": "领域",
    "department": "承办部门",
    "channel": "处理途径",
    "disposition": "处理方式",
}
REVIEW_NAMES = {
    "low_confidence": "置信度低",
    "small_margin": "前两名接近",
    "conflicting_rules": "规则冲突",
    "urgent": "紧急",
    "multiple_matters": "多项诉求",
    "empty_text": "正文为空",
    "too_short": "正文过短",
    "no_chinese": "无中文",
    "truncated": "已截断",
    "low_ocr_confidence": "识别质量低",
    "model_rule_disagreement": "模型与规则不一致",
    "procedural_flag": "程序性提示",
    "possible_accusation": "可能为检举控告",
    "review_request": "可能为复查复核请求",
    "possibly_urgent": "可能紧急",
    "possibly_multiple_matters": "可能一信多事",
    "statutory_fact": "事实指向法定途径",
    "no_route": "无法分流",
    "garbled": "疑似乱码",
    "meaningless": "内容不成文",
    "title_only": "只有标题",
}

# The legal facts a proposal names (classifier/facts.py) and the two letter-level heads a rule over
# facts may stand on, in the officer's words.
FACT_NAMES = {
    **_FACT_NAMES,
    "urgent": "可能为重大、紧急信访事项",
    "multi": "一信反映多项互不相关的事项",
}


def _date(value: dt.date | dt.datetime | None) -> str:
    if value is None:
        return "—"
    if isinstance(value, dt.datetime):
        return value.astimezone(dt.timezone(dt.timedelta(hours=8))).strftime("%Y-%m-%d %H:%M")
    return value.strftime("%Y-%m-%d")


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.0f}%"


def configure_templates(templates: Jinja2Templates) -> Jinja2Templates:
    env = templates.env
    env.autoescape = True
    env.filters["date"] = _date
    env.filters["percent"] = _percent
    env.globals.update(
        FORM_NAMES=FORM_NAMES,
        STATUS_NAMES=STATUS_NAMES,
        CATEGORY_NAMES=CATEGORY_NAMES,
        CHANNEL_NAMES=CHANNEL_NAMES,
        DISPOSITION_NAMES=DISPOSITION_NAMES,
        ROLE_NAMES=ROLE_NAMES,
        FIELD_NAMES=FIELD_NAMES,
        REVIEW_NAMES=REVIEW_NAMES,
        SEVERAL_MATTERS_REASONS=SEVERAL_MATTERS_REASONS,
        FACT_NAMES=FACT_NAMES,
        UNIT_NAMES=UNIT_NAMES,
    )
    return templates


def department_name(request: Request, code: str) -> str:
    """The department's name in the installation's catalogue; the code of one it no longer lists."""
    from routing.catalogue import load_catalogue
    from routing.errors import RoutingError

    try:
        catalogue = load_catalogue(request.app.state.settings.departments_file)
        return catalogue.name(code)
    except RoutingError:
        return code


def csrf_token(request: Request) -> str:
    """The session's CSRF token, created on first use; every form carries it."""
    token = request.session.get("csrf")
    if not isinstance(token, str) or not token:
        token = new_csrf_token()
        request.session["csrf"] = token
    return token


def render(
    request: Request,
    name: str,
    context: dict[str, Any],
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    templates: Jinja2Templates = request.app.state.templates
    full = {"request": request, "csrf_token": csrf_token(request), **context}
    full.setdefault("user", None)
    # The header names a handler's department as the office calls it, not by its catalogue code.
    department = getattr(full["user"], "department", None)
    if department:
        full.setdefault("user_department", department_name(request, department))
    return templates.TemplateResponse(request, name, full, status_code=status_code, headers=headers)


_TITLES = {
    400: "请求有误",
    403: "无权访问",
    404: "未找到",
    409: "已被他人修改",
    413: "文件过大",
    415: "文件类型不支持",
    422: "填写有误",
    429: "尝试过于频繁",
    503: "服务暂不可用",
}
_EXPLANATIONS = {
    400: "提交的内容无法处理，请检查后重试。",
    403: "您的角色无权执行此操作，或表单已过期（请刷新页面后重新提交）。如角色有误，请联系系统管理员。",
    404: "案件编号不存在，或您无权查看该信访事项。",
    409: "该信访事项已被他人更新，请重新打开查看最新内容。",
    413: "上传的文件超过大小限制，请拆分后再上传。",
    415: "只接受纯文本文件（.txt）；扫描件和 PDF 请走批量录入。",
    422: "填写的内容有误，请按提示修改。",
    429: "操作过于频繁，请稍后再试。",
    503: "办理建议模型暂不可用，请联系系统管理员。",
}


def render_error(
    request: Request,
    status: int,
    message: str,
    errors: list[dict[str, Any]],
    headers: dict[str, str] | None = None,
) -> Response:
    """The HTML form of an error: a Chinese explanation, then the precise message."""
    return render(
        request,
        "error.html",
        {
            "status": status,
            "title": _TITLES.get(status, "出错了"),
            "explanation": _EXPLANATIONS.get(status, "出现错误，已记录，请稍后再试或联系系统管理员。"),
            "message": message,
            "errors": errors,
        },
        status_code=status,
        headers=headers,
    )
