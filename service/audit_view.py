"""The audit log as a supervisor reads it: actions, objects and details in words, not stored codes.

The log stores codes (``decide``, ``letter:XF-…``, ``{"masked": true, "via": "web"}``) because they
are what is hashed and what a program filters on; the API returns them as stored beside these
readings. Every action of ``store.audit.AUDIT_ACTIONS`` has a name here (a test checks it); a detail
without a label of its own is shown under its stored key rather than dropped, so nothing recorded is
hidden from the reader.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from casework.documents import DOCUMENT_KINDS
from casework.states import RATING_NAMES, STATE_NAMES, STEP_NAMES
from routing.catalogue import Catalogue
from routing.codes import CHANNEL_NAMES, DISPOSITION_NAMES
from routing.errors import UnknownCodeError
from service.access import ROLE_NAMES
from service.schemas import AuditDetail, AuditEventPublic
from store.models import FORM_NAMES, AuditEvent

ACTION_NAMES: dict[str, str] = {
    "login": "登录",
    "login_failed": "登录被拒",
    "logout": "退出登录",
    "register_letter": "登记信访事项",
    "view_letter": "查看信访事项",
    "view_confidential": "查看保密信访事项",
    "decide": "确认分流",
    "split_letter": "拆分信访事项",
    "merge_letters": "合并信访事项",
    "export": "导出数据",
    "promote_model": "启用模型版本",
    "promote_model_refused": "拒绝启用模型版本",
    "rollback_model": "退回上一模型版本",
    "user_created": "创建账户",
    "user_updated": "修改账户",
    "user_deactivated": "停用账户",
    "user_reactivated": "重新启用账户",
    "user_unlocked": "解除账户锁定",
    "password_reset": "重设密码",
    "role_requested": "申请敏感角色",
    "role_request_approved": "批准角色申请",
    "role_request_refused": "拒绝角色申请",
    "batch_created": "新建批次",
    "file_received": "收到文件",
    "file_failed": "文件处理失败",
    "audit_anchored": "为审计日志加密钥签名",
    "case_step": "办理步骤",
    "case_linked": "关联同一事项",
    "letter_unrelated": "标为无关来信",
    "letter_unrelated_cleared": "取消无关标记",
    "document_issued": "出具文书",
    "document_sent": "登记文书送出",
}

_OBJECT_KINDS: dict[str, str] = {
    "letter": "信访事项",
    "batch": "批次",
    "file": "文件",
    "user": "账户",
    "model": "模型版本",
}

_FIELD_NAMES: dict[str, str] = {
    "category": "类别",
    "domain": "领域",
    "department": "承办部门",
    "channel": "处理途径",
    "disposition": "处理方式",
}

_LOGIN_REFUSALS: dict[str, str] = {
    "unknown_user": "没有这个账户",
    "wrong_password": "密码错误",
    "locked": "账户已锁定",
    "locked_now": "密码错误，账户因此锁定",
    "inactive": "账户已停用",
}

_PURPOSES: dict[str, str] = {
    "view": "查看",
    "decide": "确认分流",
    "split": "拆分",
    "merge": "合并",
    "page images": "查看扫描页",
    "page image": "查看扫描页",
    # the case's life (service.cases)
    "case": "查看办理过程",
    "step": "办理步骤",
    "draft": "起草文书",
    "issue": "出具文书",
    "document": "查看文书",
    "document sent": "登记文书送出",
    "link": "关联同一事项",
}

_VIA: dict[str, str] = {"web": "网页", "cli": "命令行"}
_SOURCES: dict[str, str] = {"manual": "人工登记", "batch": "批量录入"}
_REQUEST_KINDS: dict[str, str] = {"create": "新建账户", "raise": "提升现有账户的角色"}
_MEDIA: dict[str, str] = {
    "application/pdf": "PDF",
    "image/png": "PNG 图片",
    "image/jpeg": "JPEG 图片",
    "image/tiff": "TIFF 图片",
    "text/plain": "文本",
    "application/zip": "ZIP 压缩包",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "Word 文档",
}

# Internal row numbers of what the event's object already names: noise to a reader.
_HIDDEN = frozenset({"letter_id", "new_letter_id", "merged_letter_id", "earlier_letter_id"})


def action_name(action: str) -> str:
    """The action in words; an action recorded by a newer version is shown as stored."""
    return ACTION_NAMES.get(action, action)


def object_name(obj: str | None) -> str | None:
    """``letter:XF-2026-583920`` -> ``信访事项 XF-2026-583920``; ``batch:3`` -> ``批次 3``."""
    if obj is None:
        return None
    kind, _, ident = obj.partition(":")
    if kind == "model" and ident == "":
        return "模型"
    return f"{_OBJECT_KINDS[kind]} {ident}" if kind in _OBJECT_KINDS and ident else obj


def readable_details(
    details: Mapping[str, Any], catalogue: Catalogue | None = None, *, action: str | None = None
) -> list[AuditDetail]:
    """The event's details as name and value, in the order stored (a key some action uses in a
    sense of its own, like a document's ``kind``, is read in that sense for that action)."""
    own = _ACTION_DETAILS.get(action or "", {})
    out: list[AuditDetail] = []
    for key, value in details.items():
        if key in _HIDDEN:
            continue
        label, show = own.get(key) or _DETAILS.get(key, (key, _plain))
        out.append(AuditDetail(label=label, value=show(value, catalogue)))
    return out


def audit_event_public(event: AuditEvent, catalogue: Catalogue | None = None) -> AuditEventPublic:
    details: dict[str, Any] = dict(event.details or {})
    return AuditEventPublic(
        seq=event.seq,
        at=event.at,
        actor=event.actor,
        action=event.action,
        action_name=action_name(event.action),
        object=event.object,
        object_name=object_name(event.object),
        details=details,
        readable=readable_details(details, catalogue, action=event.action),
        hash=event.hash,
        mac=event.mac,
    )


# ---------------------------------------------------------------------------------------------
# values

Show = Callable[[Any, "Catalogue | None"], str]


def _plain(value: Any, catalogue: Catalogue | None = None) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, list):
        return "、".join(_plain(v) for v in value) if value else "（无）"
    if isinstance(value, dict):
        return "；".join(f"{k}：{_plain(v)}" for k, v in value.items()) if value else "（无）"
    return str(value)


def _named(names: Mapping[str, str]) -> Show:
    def show(value: Any, catalogue: Catalogue | None = None) -> str:
        if isinstance(value, list):
            return "、".join(names.get(str(v), str(v)) for v in value) if value else "（无）"
        return names.get(str(value), _plain(value))

    return show


def _department(value: Any, catalogue: Catalogue | None = None) -> str:
    if value is None:
        return "—"
    if catalogue is not None:
        try:
            return catalogue.name(str(value))
        except UnknownCodeError:
            pass
    return str(value)


def _changed(value: Any, catalogue: Catalogue | None = None) -> str:
    return "已更改" if value == "changed" else _plain(value)


def _text_digest(value: Any, catalogue: Catalogue | None = None) -> str:
    if isinstance(value, dict) and "chars" in value:
        digest = str(value.get("sha256", ""))[:12]
        return f"{value['chars']} 字" + (f"（摘要 {digest}…）" if digest else "")
    return _plain(value)


def _digest(value: Any, catalogue: Catalogue | None = None) -> str:
    return f"{str(value)[:12]}…" if isinstance(value, str) and len(value) > 12 else _plain(value)


def _size(value: Any, catalogue: Catalogue | None = None) -> str:
    if not isinstance(value, int):
        return _plain(value)
    if value < 1024:
        return f"{value} 字节"
    if value < 1024 * 1024:
        return f"{value / 1024:.1f} KB"
    return f"{value / 1024 / 1024:.1f} MB"


def _filters(value: Any, catalogue: Catalogue | None = None) -> str:
    if not isinstance(value, dict) or not value:
        return "（无）"
    return "；".join(f"{_DETAILS.get(k, (k, _plain))[0]}：{_plain(v)}" for k, v in value.items())


def _comparison(value: Any, catalogue: Catalogue | None = None) -> str:
    # The measurements behind a promotion: the models page shows them in full, the log keeps them.
    return "见模型页的比较" if value else "（无）"


_DETAILS: dict[str, tuple[str, Show]] = {
    # accounts and sign-in
    "role": ("角色", _named(ROLE_NAMES)),
    "previous_role": ("原角色", _named(ROLE_NAMES)),
    "department": ("部门", _department),
    "display_name": ("显示名", _changed),
    "password": ("密码", _changed),
    "active": ("启用", _plain),
    "sessions_ended": ("结束的会话数", _plain),
    "addresses": ("解除锁定的地址数", _plain),
    "why": ("原因", _named(_LOGIN_REFUSALS)),
    "request": ("申请号", _plain),
    "kind": ("申请类型", _named(_REQUEST_KINDS)),
    "approved_by": ("批准人", _plain),
    "bootstrap": ("说明", _plain),
    # letters
    "form": ("来信形式", _named(FORM_NAMES)),
    "source": ("来源", _named(_SOURCES)),
    "source_file_id": ("来源文件号", _plain),
    "received_on": ("收到日期", _plain),
    "allowed": ("是否允许", _plain),
    "purpose": ("用途", _named(_PURPOSES)),
    "decision_id": ("确认记录号", _plain),
    "proposal_id": ("办理建议号", _plain),
    "supersedes_id": ("所更正的确认记录号", _plain),
    "agreed_with_proposal": ("采纳办理建议", _plain),
    "changed_fields": ("更改的项目", _named(_FIELD_NAMES)),
    "reason": ("理由", _plain),
    "new_case_number": ("拆出的新案件编号", _plain),
    "merged_case_number": ("并入的案件编号", _plain),
    "at": ("拆分位置（第几字）", _plain),
    "pages_moved": ("移过去的扫描页数", _plain),
    "text_before": ("拆分前正文", _text_digest),
    "first": ("前一部分", _text_digest),
    "second": ("后一部分", _text_digest),
    "text_after": ("合并后正文", _text_digest),
    # exports
    "format": ("格式", _plain),
    "rows": ("导出行数", _plain),
    "masked": ("个人信息已遮盖", _plain),
    "via": ("途径", _named(_VIA)),
    "filters": ("筛选条件", _filters),
    "status": ("状态", _plain),
    # files and batches
    "batch_id": ("批次号", _plain),
    "sha256": ("文件摘要（SHA-256）", _digest),
    "media_type": ("文件类型", _named(_MEDIA)),
    "size_bytes": ("大小", _size),
    "file": ("文件名", _plain),
    "refused": ("上传时拒收", _plain),
    # models
    "version": ("模型版本", _plain),
    "previous": ("原模型版本", _plain),
    "forced": ("强制启用", _plain),
    "worse": ("变差的分类头", _plain),
    "comparison": ("比较", _comparison),
    "tolerance": ("允许的下降", _plain),
    # the audit log itself
    "events": ("加签名的条数", _plain),
    "last_seq": ("最后一条", _plain),
    "last_hash": ("最后一条的哈希", _digest),
    # the case's life
    "seq": ("第几步", _plain),
    "step": ("办理步骤", _named({k.value: v for k, v in STEP_NAMES.items()})),
    "from_state": ("原状态", _named({k.value: v for k, v in STATE_NAMES.items()})),
    "to_state": ("新状态", _named({k.value: v for k, v in STATE_NAMES.items()})),
    "effective_on": ("日期", _plain),
    "body": ("承办单位", _department),
    "due_on": ("期限", _plain),
    "days": ("天数", _plain),
    "basis": ("依据条款", _plain),
    "document_no": ("文号", _plain),
    "rating": ("满意度", _named({k.value: v for k, v in RATING_NAMES.items()})),
    "event_id": ("步骤记录号", _plain),
    "earlier": ("关联的在先案件", _plain),
    "document_id": ("文书记录号", _plain),
    "number": ("文号", _plain),
    "docx_sha256": ("文书文件摘要（SHA-256）", _digest),
    "sent_on": ("发出日期", _plain),
}

# Keys an action uses in a sense of its own.
_CASE_ROUTE: dict[str, tuple[str, Show]] = {
    "channel": ("办理途径", _named(CHANNEL_NAMES)),
    "disposition": ("处理方式", _named(DISPOSITION_NAMES)),
}
_ACTION_DETAILS: dict[str, dict[str, tuple[str, Show]]] = {
    "document_issued": {"kind": ("文书种类", _named(DOCUMENT_KINDS))},
    "case_step": _CASE_ROUTE,
}
