"""The console's words: every status, action, deadline kind, event and error in the domain's
Chinese (Simplified Chinese first; a code without a word shows as itself)."""

from __future__ import annotations

from datetime import datetime, timedelta

from domain.calendar import SUBDISTRICT_TZ

STATUS = {
    "received": "已受理",
    "dispatched": "待签收",
    "returned": "已退单",
    "in_progress": "办理中",
    "replied": "已答复",
    "verifying": "待核查",
    "resolved_on_site": "就地解决待确认",
    "closed": "已办结",
}
ACTION = {
    "accept": "签收",
    "return": "退单",
    "reassign": "改派",
    "reject": "不予受理",
    "contact": "联系诉求人",
    "progress": "记录进展",
    "reply": "答复",
    "rate": "回访评价",
    "urge": "催办",
    "escalate": "提级督办",
    "request_extension": "申请延期",
    "approve_extension": "批准延期",
    "deny_extension": "驳回延期",
    "suspend": "挂起",
    "resume": "恢复办理",
    "review_close": "审核办结",
    "reopen": "发回重办",
    "open_linkage": "吹哨联动",
    "resolve_on_site": "就地解决",
    "confirm": "确认办结",
    "verify": "现场核查",
    "merge": "合并重复件",
    "visit": "回访",
    "add_info": "补充诉求",
    "chase": "催促",
    "appeal": "申诉",
    "rule_on_appeal": "申诉裁定",
}
DEADLINE = {
    "accept": "签收时限",
    "contact": "联系时限",
    "reply": "答复时限",
    "rating": "评价时限",
    "verify": "核查时限",
    "appeal": "申诉裁定时限",
}
DEADLINE_STATE = {
    "pending": "计时中",
    "met": "按时",
    "met_late": "超时完成",
    "missed": "已超时",
}
EVENT = {
    **ACTION,
    "received": "受理",
    "dispatched": "派单",
    "route_failed": "派单失败",
    "deadline_warning": "时限预警",
    "deadline_missed": "超时",
    "escalated": "逐级督办",
    "auto_resumed": "挂起到期自动恢复",
    "rehandling": "重办",
    "review_opened": "转审核",
    "merged_in": "并入重复件",
    "closed": "办结",
    "linkage_opened": "吹哨联动",
    "linkage_changed": "联动变更",
    "linkage_closed": "联动完成",
    "linkage_cancelled": "联动取消",
    "agency_added": "增派部门",
    "agency_released": "部门退出联动",
    "agency_reminded": "提醒部门报到",
    "agency_reported": "部门报到",
    "agency_report": "部门报到",
    "agency_done": "部门办结",
    "agency_late": "部门逾期",
}
CHANNEL = {
    "hotline": "12345热线",
    "app": "App/小程序",
    "walk_in": "来访",
    "letter": "来信",
    "grid_patrol": "网格巡查",
    "open311": "Open311",
    "proactive": "主动治理",
}
SEVERITY = {"normal": "一般", "urgent": "紧急", "emergency": "特急", "major": "重大"}
GRADE = {"satisfied": "满意", "basically_satisfied": "基本满意", "unsatisfied": "不满意"}
OUTCOME = {
    "rated": "已评价",
    "unrated": "未评价",
    "rejected": "不予受理",
    "self_resolved": "就地解决",
    "verified": "核查办结",
    "duplicate": "重复件合并",
}
ROLE = {
    "dispatcher": "调度员",
    "unit_handler": "承办人",
    "grid_worker": "网格员",
    "supervisor": "督办人",
    "agency": "联动部门",
    "operator": "运维",
    "admin": "管理员",
    "resident": "诉求人",
}
ERROR = {
    "not_authenticated": "请先登录（令牌无效或已过期）",
    "forbidden": "当前角色无权进行此操作",
    "unknown_case": "没有这个工单",
    "not_allowed_now": "工单当前状态不允许此操作",
    "reference_taken": "该编号已被使用",
    "invalid_reference": "引用的类别、地点或单位不存在",
    "invalid_query": "查询条件无效",
    "invalid_body": "填写的内容不符合要求",
    "invalid_request": "填写的内容不符合要求",
    "unavailable": "系统繁忙，请稍后重试",
    "rate_limited": "提交过于频繁，请稍后再试",
    "body_too_large": "提交的内容过大",
    "invalid_csrf": "页面已过期，请刷新后重试",
}
RATE = {
    "completion": "办结率",
    "response": "响应率",
    "on_time": "按时办结率",
    "satisfaction": "满意率",
    "resolution": "解决率",
}
FIELD = {
    "note": "说明",
    "reason": "原因",
    "result": "办理结果",
    "grade": "评价",
    "solved": "问题是否解决",
    "comment": "诉求人意见",
    "unit": "改派单位",
    "due_at": "延期至",
    "verdict": "审核结论",
    "into": "并入工单",
    "evidence_url": "照片链接",
    "fixed": "是否整改到位",
    "agencies": "联动部门（编码，逗号分隔）",
    "agency": "部门编码",
    "notes": "办理情况",
}


def local(moment: datetime | str | None) -> str:
    """A time as the subdistrict reads it."""
    if moment is None:
        return "-"
    if isinstance(moment, str):
        moment = datetime.fromisoformat(moment)
    return moment.astimezone(SUBDISTRICT_TZ).strftime("%Y-%m-%d %H:%M")


def span(delta: timedelta) -> str:
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days}天{hours}小时"
    if hours:
        return f"{hours}小时{minutes}分"
    return f"{minutes}分"


def time_left(due: datetime | str, now: datetime) -> str:
    if isinstance(due, str):
        due = datetime.fromisoformat(due)
    left = due - now
    return f"剩{span(left)}" if left.total_seconds() >= 0 else f"超时{span(left)}"
