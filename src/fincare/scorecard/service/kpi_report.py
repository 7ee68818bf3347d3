"""The KPI report for a period — the scorecard as rows, CSV, and an XLSX workbook in Chinese with a
summary sheet and one sheet per owner department (the quarterly report each department receives)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fincare.platform import exports
from fincare.scorecard.service.kpis import KpiResult

COLUMNS = ("key", "name_zh", "name_en", "owner", "target", "direction", "actual", "unit", "met", "basis", "reason",
           "revision")
HEADERS_ZH = ("指标代码", "指标名称", "Name", "责任部门", "目标值", "方向", "实际值", "单位", "是否达标", "样本数",
              "无数据原因", "修订版本")


def row_of(result: KpiResult) -> dict[str, Any]:
    kpi = result.kpi
    return {"key": kpi.key, "name_zh": kpi.name_zh, "name_en": kpi.name_en, "owner": kpi.owner,
            "target": kpi.target, "direction": kpi.direction, "actual": result.actual, "unit": kpi.unit,
            "met": result.met, "basis": result.basis, "reason": result.reason, "revision": result.revision}


def to_csv(results: Sequence[KpiResult]) -> str:
    rows = (row_of(r) for r in results)
    return exports.to_csv([COLUMNS, *([row[c] for c in COLUMNS] for row in rows)])


def _cells(result: KpiResult, departments: dict[str, str]) -> list[Any]:
    row = row_of(result)
    row["met"] = "—" if row["met"] is None else ("达标" if row["met"] else "未达标")
    row["owner"] = departments.get(row["owner"], row["owner"])
    return [row[c] for c in COLUMNS]


def to_xlsx(results: Sequence[KpiResult], period_label: str, departments: dict[str, str]) -> bytes:
    """`departments`: code → Chinese name, for the sheet names and the owner column."""
    def sheet(of: Sequence[KpiResult]) -> list[Sequence[Any]]:
        return [HEADERS_ZH, *(_cells(r, departments) for r in of)]

    owners = sorted({r.kpi.owner for r in results})
    return exports.to_xlsx([(f"汇总 {period_label}", sheet(results)),
                            *((departments.get(owner, owner), sheet([r for r in results if r.kpi.owner == owner]))
                              for owner in owners)])
