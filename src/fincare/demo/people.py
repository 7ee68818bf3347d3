"""Synthetic but well-formed customers: valid ID numbers and cards, plausible names, ages, branches,
segments (a few private-banking clients) and tags (some flagged for high-risk sales)."""

from __future__ import annotations

import random

from fincare.customers import identity

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚桂英华建国红玉文斌宇浩然欣怡子涵"
REGIONS = (("110105", "北京市朝阳区", "北京分行"), ("310115", "上海市浦东新区", "上海分行"),
           ("440106", "广州市天河区", "广州分行"), ("440305", "深圳市南山区", "深圳分行"),
           ("330106", "杭州市西湖区", "杭州分行"), ("510104", "成都市锦江区", "成都分行"))
STREETS = ("建国路", "人民路", "中山路", "解放路", "长安街", "南京路", "天府大道", "文三路")
COMPANIES = ("科技", "贸易", "制造", "物流", "餐饮", "建筑")


def synthetic_customer(rng: random.Random, n: int) -> dict[str, str]:
    """One customer as an import row (see `customers.importer.COLUMNS`); unique phone and external id."""
    code, city, branch = rng.choice(REGIONS)
    phone = f"1{rng.choice('3456789')}{n:09d}"
    partial = f"622848{rng.randint(0, 10**12 - 1):012d}"
    card = partial + identity.luhn_check_digit(partial)
    address = f"{city}{rng.choice(STREETS)}{rng.randint(1, 999)}号"
    if rng.random() < 0.04:
        alphabet = "0123456789ABCDEFGHJKLMNPQRTUWXY"
        first17 = "91" + code + "".join(rng.choice(alphabet) for _ in range(9))
        return {"external_id": f"C{n:08d}", "kind": "enterprise",
                "name": f"{city[:2]}{rng.choice(GIVEN)}{rng.choice(GIVEN)}{rng.choice(COMPANIES)}有限公司",
                "credit_code": first17 + identity.credit_code_check_char(first17), "phone": phone,
                "address": address, "cards": card, "service_lines": "payments;loans", "branch": branch,
                "segment": "corporate"}
    year = rng.choices((rng.randint(1945, 1965), rng.randint(1966, 1985), rng.randint(1986, 2004)),
                       weights=(2, 4, 4))[0]
    first17 = f"{code}{year}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}{rng.randint(0, 999):03d}"
    segment = "senior" if year <= 1965 else ("young" if year >= 1990 else "mass")
    lines = rng.sample(("cards", "payments", "wealth_management", "loans", "insurance", "investment"),
                       k=rng.randint(1, 3))
    wealthy = rng.random()
    if wealthy < 0.02 and year <= 1985:
        segment = "private_banking"
    # sold a high-risk product (e.g. a C4/C5 fund) to an older or cautious customer: followed up monthly
    tags = "high_risk_sales" if wealthy > 0.9 and {"wealth_management", "investment"} & set(lines) else ""
    return {"external_id": f"C{n:08d}", "kind": "individual",
            "name": rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2))),
            "id_number": first17 + identity.resident_id_check_char(first17), "phone": phone,
            "email": f"user{n}@example.com" if rng.random() < 0.7 else "", "address": address, "cards": card,
            "risk_tolerance": rng.choices(("C1", "C2", "C3", "C4", "C5"), weights=(2, 4, 5, 2, 1))[0],
            "service_lines": ";".join(lines), "branch": branch, "segment": segment, "tags": tags}
