"""The models page: the versions side by side, one model's metrics and report, promotion and rollback.

The operations are those of the JSON API (``service.models``), so a refusal reads the same on the
page as in the API; here it is shown with a form to force the promotion with a reason.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import FileResponse, RedirectResponse, Response

from api.deps import (
    ModelVersion,
    SessionDep,
    SettingsDep,
    get_catalogue,
    page_role,
    router_refresh,
    serving_version,
)
from api.errors import status_of
from api.pages.csrf import CsrfChecked
from api.pages.render import render
from routing.catalogue import Catalogue
from routing.codes import LABEL_NAMES
from routing.errors import UnknownCodeError
from service import access
from service import models as ops
from service.errors import NotFound, ServiceError
from service.settings import Settings
from store.models import User

router = APIRouter()

Reader = Annotated[User, page_role(access.READ_MODELS, "read the models")]
Promoter = Annotated[User, page_role(access.PROMOTE_MODELS, "promote or roll back models")]

HEAD_NAMES = {
    "category": "类别",
    "domain": "领域",
    "department": "承办部门",
    "channel": "处理途径",
    "final_channel": "最终处理途径",
    "final_department": "最终承办部门",
}
# The columns of the list: the heads promotion compares, in the registry's order.
LIST_HEADS = ("category", "domain", "department", "channel", "final_channel")
FEATURE_NAMES = {
    "tfidf": "TF-IDF 字词特征",
    "embeddings": "句向量",
    "tfidf+embeddings": "TF-IDF 字词特征＋句向量",
}
# meta.json's row counts: letters, the two sides of the split, and per head "train_category" ...
ROW_NAMES = {
    "letters": "来信",
    "train": "训练",
    "test": "测试",
    "decisions": "办信人员确认",
    "extra": "补充样本",
}
SPLIT_NAMES = {
    "test_size": "测试集比例",
    "seed": "随机种子",
    "by": "划分单位",
    "method": "划分方法",
    "test_ids_hash": "测试集来信指纹",
    "train_ids_hash": "训练集来信指纹",
}
SPLIT_VALUES = {"group": "按来信组（同组来信不跨训练与测试）"}
DECISION_NAMES = {"decided_before": "截至"}


def row_name(key: str) -> str:
    """A row count's name: ``train_category`` is 训练（类别）."""
    side, _, head = key.partition("_")
    if head and side in ROW_NAMES:
        return f"{ROW_NAMES[side]}（{HEAD_NAMES.get(head, head)}）"
    return ROW_NAMES.get(key, key)


def split_value(key: str, value: object) -> str:
    if key == "test_size" and isinstance(value, float):
        return f"{value:.0%}"
    return SPLIT_VALUES.get(str(value), str(value))


def label_name(head: str, code: str, catalogue: Catalogue) -> str:
    """A class of a head by its name: 检举控告类, 住房和城乡建设局 ... (the code when unknown)."""
    names = LABEL_NAMES.get(head.removeprefix("final_"))
    if names is not None:
        return names.get(code, code)
    if head.endswith("department"):
        try:
            return catalogue.name(code)
        except UnknownCodeError:
            return code
    return code


def _names(catalogue: Catalogue) -> dict[str, Any]:
    """What the model pages name codes with."""
    return {
        "HEAD_NAMES": HEAD_NAMES,
        "FEATURE_NAMES": FEATURE_NAMES,
        "SPLIT_NAMES": SPLIT_NAMES,
        "row_name": row_name,
        "split_value": split_value,
        "label_name": lambda head, code: label_name(head, code, catalogue),
    }


# The report is a whole HTML document made by ``training.report``: its styles are inline and its
# plots are data: images. It runs no script, posts no form and loads nothing, and this policy holds
# it to that; ``sandbox`` also gives it an origin of its own, so it cannot reach the workbench.
REPORT_POLICY = (
    "default-src 'none'; img-src data:; style-src 'unsafe-inline'; sandbox; "
    "frame-ancestors 'none'; form-action 'none'; base-uri 'none'"
)


def _list_page(
    request: Request,
    settings: Settings,
    user: User,
    *,
    notice: str | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    items, in_service = ops.list_model_versions(settings)
    return render(
        request,
        "models.html",
        {
            "user": user,
            "items": items,
            "in_service": in_service,
            "serving": serving_version(request),
            "history": ops.registry_history(settings)[::-1][:20],
            "heads": LIST_HEADS,
            **_names(get_catalogue(settings)),
            "can_promote": user.role in access.PROMOTE_MODELS,
            "notice": notice,
            "error": error,
        },
        status_code=status_code,
    )


def _detail_page(
    request: Request,
    settings: Settings,
    user: User,
    version: str,
    *,
    refusal: ops.PromotionRefused | None = None,
    error: str | None = None,
    reason: str = "",
    status_code: int = 200,
) -> Response:
    detail = ops.model_detail(settings, version)
    return render(
        request,
        "model.html",
        {
            "user": user,
            "d": detail,
            "m": detail.model,
            **_names(get_catalogue(settings)),
            "can_promote": user.role in access.PROMOTE_MODELS,
            "refusal": refusal,
            "error": error,
            "reason": reason,
        },
        status_code=status_code,
    )


@router.get("/models")
def models_page(
    request: Request,
    settings: SettingsDep,
    user: Reader,
    promoted: str | None = None,
    rolled_back: str | None = None,
) -> Response:
    notice = None
    in_service = ops.registry_in_service(settings)
    # Said only when it is true: a crafted link cannot make the page announce a promotion.
    if promoted and promoted == in_service:
        notice = f"模型 {promoted} 已投入使用。"
    elif rolled_back and rolled_back == in_service:
        notice = f"已回滚：模型 {rolled_back} 重新投入使用。"
    return _list_page(request, settings, user, notice=notice)


@router.get("/models/{version}")
def model_page(version: ModelVersion, request: Request, settings: SettingsDep, user: Reader) -> Response:
    return _detail_page(request, settings, user, version)


@router.get("/models/{version}/report")
def model_report(version: ModelVersion, settings: SettingsDep, user: Reader) -> Response:
    """The model's HTML evaluation report: only ``report.html`` of a folder in the registry."""
    report = ops.report_file(settings, version)
    if report is None:
        raise NotFound(f"model {version} has no evaluation report; run `xinfang evaluate --model ...`")
    return FileResponse(
        report,
        media_type="text/html; charset=utf-8",
        headers={"Content-Security-Policy": REPORT_POLICY, "Cache-Control": "no-store"},
    )


@router.post("/models/{version}/promote", dependencies=[CsrfChecked])
def promote_page(
    version: ModelVersion,
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Promoter,
    reason: Annotated[str, Form(max_length=2000)] = "",
    force: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    cleaned = reason.strip() or None
    forced = force in ("1", "on", "true")
    try:
        ops.promote_version(
            session, settings, user, version, refresh=router_refresh(request), force=forced, reason=cleaned
        )
    except ops.PromotionRefused as exc:
        return _detail_page(
            request, settings, user, version, refusal=exc, reason=reason, status_code=status_of(exc)
        )
    except ServiceError as exc:
        if status_of(exc) not in (409, 422):
            raise
        return _detail_page(
            request, settings, user, version, error=_chinese(exc), reason=reason, status_code=status_of(exc)
        )
    return RedirectResponse(f"/models?promoted={version}", status_code=303)


@router.post("/models/rollback", dependencies=[CsrfChecked])
def rollback_page(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    user: Promoter,
    reason: Annotated[str, Form(max_length=2000)] = "",
) -> Response:
    try:
        result = ops.rollback_version(
            session, settings, user, refresh=router_refresh(request), reason=reason.strip() or None
        )
    except ServiceError as exc:
        if status_of(exc) != 409:
            raise
        return _list_page(request, settings, user, error=_chinese(exc), status_code=status_of(exc))
    return RedirectResponse(f"/models?rolled_back={result.version}", status_code=303)


def _chinese(exc: ServiceError) -> str:
    """A short Chinese lead for the page, then the registry's precise message."""
    lead: dict[str, Any] = {
        "force needs a reason": "强制投入使用必须填写理由。",
        "already in service": "该模型已在使用中。",
        "unusable": "该模型文件夹无法加载，不能投入使用。",
        "could not be compared": "无法与在用模型比较。",
        "nothing to roll back to": "没有可回滚的上一版本。",
        "cannot roll back": "无法回滚。",
    }
    first = next((text for key, text in lead.items() if key in exc.message), "操作未完成。")
    return f"{first}{exc.message}"
