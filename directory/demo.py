"""Demo directory: the three systems of the tender, three vendors and one user per role."""

from __future__ import annotations

from datetime import date

from directory import services
from directory.models import SystemTier
from directory.roles import Role

DEMO_PASSWORD = "opsdesk-demo"

VENDORS = [
    ("vendor-a", "甲服务商（劳动保障系统运维）"),
    ("vendor-b", "乙服务商（审批监管系统运维）"),
    ("vendor-c", "丙服务商（通信维护）"),
]

# (code, name, tier, vendor code, contract number, contract start, contract end) — the tender's
# three systems with their 10- and 12-month service periods.
SYSTEMS = [
    (
        "labour-online",
        "劳动保障网上办事系统",
        SystemTier.MAIN,
        "vendor-a",
        "RS-OM-2026-01",
        date(2026, 3, 1),
        date(2026, 12, 31),
    ),
    (
        "approval-supervision",
        "网上审批与服务监管系统",
        SystemTier.AUXILIARY,
        "vendor-b",
        "RS-OM-2026-02",
        date(2026, 1, 1),
        date(2026, 12, 31),
    ),
    (
        "comms",
        "通信维护服务",
        SystemTier.INFRASTRUCTURE,
        "vendor-c",
        "RS-OM-2026-03",
        date(2026, 3, 1),
        date(2026, 12, 31),
    ),
]

# (username, full name, roles, vendor code, department, superuser)
USERS = [
    ("admin", "系统管理员", [Role.ADMINISTRATOR], None, "信息科", True),
    ("desk", "王服务台", [Role.DESK_AGENT], None, "服务台", False),
    ("supervisor", "李主管", [Role.DESK_SUPERVISOR], None, "服务台", False),
    ("leader", "陈主任", [Role.CENTRE_LEADER], None, "中心领导", False),
    ("vendor-a-manager", "赵经理", [Role.VENDOR_MANAGER], "vendor-a", "", False),
    ("vendor-a-engineer", "钱工程师", [Role.VENDOR_ENGINEER], "vendor-a", "", False),
    ("vendor-b-manager", "孙经理", [Role.VENDOR_MANAGER], "vendor-b", "", False),
    ("vendor-b-engineer", "周工程师", [Role.VENDOR_ENGINEER], "vendor-b", "", False),
    ("requester", "吴经办", [Role.REQUESTER], None, "社保业务科", False),
]


def seed_directory() -> None:
    """Idempotently create the demo vendors, systems, contracts and users."""
    services.role_groups_ensure()
    vendors = {code: services.vendor_upsert(code=code, name=name) for code, name in VENDORS}
    for code, name, tier, vendor_code, number, start, end in SYSTEMS:
        vendor = vendors[vendor_code]
        system = services.system_upsert(code=code, name=name, tier=tier, vendor=vendor)
        services.contract_upsert(
            number=number,
            vendor=vendor,
            title=f"{name}运维服务",
            start_date=start,
            end_date=end,
            systems=[system],
        )
    for username, full_name, roles, vendor_code, department, superuser in USERS:
        services.user_upsert(
            username=username,
            password=DEMO_PASSWORD,
            roles=roles,
            full_name=full_name,
            email=f"{username}@opsdesk.invalid",
            vendor=vendors[vendor_code] if vendor_code else None,
            department=department,
            is_superuser=superuser,
        )
