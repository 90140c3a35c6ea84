"""Demo tickets: a realistic year of work across kinds, grades, systems, vendors and states.

Every ticket is walked through the real services at plausible past instants (``clock.at``),
so numbers, history, deadlines and SLA outcomes are what production would have recorded.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from django.utils import timezone

from directory.models import BusinessSystem, User
from opsdesk import clock
from tickets import services
from tickets.models import Category, Kind, ResolutionCode, Tag, Ticket
from tickets.services import TicketInput

DEMO_TAG = "demo"

CATEGORIES = [
    ("account", "账号与权限"),
    ("login", "登录与认证"),
    ("data-fix", "数据修正"),
    ("performance", "性能缓慢"),
    ("network", "网络与通信"),
    ("interface", "接口对接"),
    ("hardware", "设备硬件"),
    ("consulting", "业务咨询"),
]

TITLES = {
    "labour-online": [
        "网上办事大厅无法登录",
        "社保缴费页面提交后白屏",
        "单位参保登记审核超时",
        "养老保险待遇查询结果为空",
        "电子社保卡扫码登录失败",
        "办事指南附件下载报错",
    ],
    "approval-supervision": [
        "审批事项流转卡在复核环节",
        "监管报表统计数据不一致",
        "办件超期预警未推送",
        "审批系统打印回执乱码",
        "事项库同步失败",
    ],
    "comms": [
        "机房至分中心专线中断",
        "核心交换机端口频繁抖动",
        "办事大厅无线网络信号弱",
        "VPN 拨号后无法访问内网",
        "出口带宽利用率持续超过 90%",
    ],
}

DEPARTMENTS = ["社保业务科", "就业服务科", "医保结算科", "信息科", "办事大厅", "档案室"]
NAMES = ["张伟", "王芳", "李娜", "刘洋", "陈静", "杨帆", "黄磊", "周敏", "吴强", "郑丽"]


def _working_moment(rng: random.Random, day: datetime) -> datetime:
    """A report time inside office hours most of the time, occasionally at night."""
    if rng.random() < 0.15:
        hour = rng.choice([7, 19, 21, 23])
    else:
        hour = rng.choice([9, 10, 11, 14, 15, 16])
    return day.replace(hour=hour, minute=rng.randrange(60), second=rng.randrange(60))


def seed_categories() -> dict[str, Category]:
    return {
        code: Category.objects.update_or_create(code=code, defaults={"name": name})[0]
        for code, name in CATEGORIES
    }


def seed_tickets(*, count: int = 300, seed: int = 2026) -> int:
    """Create ``count`` demo tickets unless demo tickets exist already; returns how many."""
    categories = seed_categories()
    if Ticket.objects.filter(tags__name=DEMO_TAG).exists():
        return 0
    Tag.objects.get_or_create(name=DEMO_TAG)
    rng = random.Random(seed)
    desk = User.objects.get(username="desk")
    requester = User.objects.get(username="requester")
    systems = list(BusinessSystem.objects.select_related("vendor").filter(code__in=TITLES))
    engineers = {
        user.vendor_id: user
        for user in User.objects.filter(groups__name="vendor_engineer", vendor__isnull=False)
    }
    managers = {
        user.vendor_id: user
        for user in User.objects.filter(groups__name="vendor_manager", vendor__isnull=False)
    }
    today = timezone.localtime().replace(minute=0, second=0, microsecond=0)
    created = 0
    for _ in range(count):
        # Older tickets are more numerous and mostly closed; recent ones are still open.
        recent = rng.random() < 0.2
        age_days = rng.randrange(0, 7) if recent else int(rng.triangular(7, 365, 30))
        reported = _working_moment(rng, today - timedelta(days=age_days))
        if reported >= timezone.now():
            reported = timezone.now() - timedelta(minutes=30)
        system = rng.choice(systems)
        kind = rng.choices(
            [Kind.INCIDENT, Kind.REQUEST, Kind.COMPLAINT, Kind.TASK], weights=[55, 35, 5, 5]
        )[0]
        grade = rng.choices([1, 2, 3], weights=[5, 30, 65])[0] if kind == Kind.INCIDENT else None
        data = TicketInput(
            title=rng.choice(TITLES[system.code]),
            kind=kind,
            channel=rng.choices(
                ["phone", "email", "web", "walk_in", "monitoring"], weights=[45, 15, 20, 5, 15]
            )[0],
            description="用户来电反映：" + rng.choice(TITLES[system.code]) + "，请尽快处理。",
            grade=grade,
            system=system,
            category=rng.choice(list(categories.values())),
            requester=requester if rng.random() < 0.2 else None,
            requester_name=rng.choice(NAMES),
            requester_department=rng.choice(DEPARTMENTS),
            requester_phone=f"020-8{rng.randrange(1000000, 9999999)}",
            reported_at=reported,
            resolution_due=(reported + timedelta(days=5)) if kind == Kind.TASK else None,
            tags=[DEMO_TAG],
        )
        _walk(rng, data, desk, system, engineers, managers, age_days)
        created += 1
    return created


def _walk(rng, data, desk, system, engineers, managers, age_days) -> Ticket:
    """Create one ticket and move it along its lifecycle at plausible instants."""
    moment = data.reported_at + timedelta(minutes=rng.randrange(1, 10))
    with clock.at(moment):
        ticket = services.ticket_create(actor=desk, data=data)
    vendor = system.vendor
    # Vendors without portal accounts report progress by phone; the desk records it for them.
    engineer = (engineers.get(vendor.pk) or managers.get(vendor.pk) or desk) if vendor else None
    # First-line resolutions by the desk: about one ticket in six.
    if rng.random() < 0.17 or vendor is None or engineer is None:
        if age_days > 0 or rng.random() < 0.5:
            moment += timedelta(minutes=rng.randrange(5, 40))
            if moment >= timezone.now():
                return ticket
            with clock.at(moment):
                services.ticket_resolve(
                    actor=desk,
                    ticket_id=ticket.pk,
                    resolution="服务台电话指导用户完成操作。",
                    resolution_code=ResolutionCode.ADVICE,
                )
            close_at = moment + timedelta(hours=rng.randrange(2, 30))
            if age_days > 3 and close_at < timezone.now():
                with clock.at(close_at):
                    services.ticket_close(actor=desk, ticket_id=ticket.pk)
        return ticket
    steps = _steps_for_age(rng, age_days)
    moment += timedelta(minutes=rng.randrange(2, 20))
    if moment >= timezone.now():
        return ticket
    with clock.at(moment):
        services.ticket_assign(actor=desk, ticket_id=ticket.pk, vendor=vendor)
    if steps < 1:
        return ticket
    late = rng.random() < 0.08
    moment += timedelta(minutes=rng.randrange(60, 240) if late else rng.randrange(3, 25))
    if moment >= timezone.now():
        return ticket
    with clock.at(moment):
        services.ticket_accept(actor=engineer, ticket_id=ticket.pk)
    if steps < 2:
        return ticket
    moment += timedelta(minutes=rng.randrange(5, 60))
    if moment >= timezone.now():
        return ticket
    with clock.at(moment):
        services.ticket_start(actor=engineer, ticket_id=ticket.pk)
    if rng.random() < 0.15:
        moment += timedelta(minutes=rng.randrange(10, 90))
        if moment >= timezone.now():
            return ticket
        with clock.at(moment):
            services.ticket_pend(
                actor=engineer, ticket_id=ticket.pk, reason="等待用户提供报错截图和办件编号"
            )
        if steps < 3:
            return ticket
        moment += timedelta(hours=rng.randrange(1, 20))
        if moment >= timezone.now():
            return ticket
        with clock.at(moment):
            services.ticket_resume(actor=engineer, ticket_id=ticket.pk)
    if steps < 3:
        return ticket
    slow = rng.random() < 0.12
    moment += (
        timedelta(hours=rng.randrange(8, 60)) if slow else timedelta(minutes=rng.randrange(20, 200))
    )
    if moment >= timezone.now():
        return ticket
    with clock.at(moment):
        services.ticket_resolve(
            actor=engineer,
            ticket_id=ticket.pk,
            resolution="已定位原因并修复：重启应用服务并清理缓存，用户验证正常。",
            resolution_code=rng.choice([ResolutionCode.FIXED, ResolutionCode.WORKAROUND]),
        )
    if steps < 4:
        return ticket
    moment += timedelta(hours=rng.randrange(1, 48))
    if moment >= timezone.now():
        return ticket
    with clock.at(moment):
        services.ticket_close(actor=desk, ticket_id=ticket.pk)
    return ticket


def _steps_for_age(rng: random.Random, age_days: int) -> int:
    """How far along a ticket of this age got: 0 assigned … 4 closed."""
    if age_days > 14:
        return 4 if rng.random() < 0.97 else 3
    if age_days > 3:
        return rng.choices([1, 2, 3, 4], weights=[5, 10, 25, 60])[0]
    return rng.choices([0, 1, 2, 3, 4], weights=[20, 25, 30, 15, 10])[0]
