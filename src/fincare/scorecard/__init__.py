"""Scorecard: the measures plan, the KPI catalogue computed from FinCare's own records, the
management dashboard and the reports regulators and boards receive.

Owns Measure and MeasureNote (the plan: owner department, start, deadline, evaluation cadence,
status, progress) and KpiSnapshot (a closed period's figures, kept; a later correction is a new
revision, never a silent change). KPIs whose source domain does not exist yet report `null` with
the capability that will feed them — never a made-up number.

Glossary: 考核周期 evaluation cadence; 责任部门 owner department.
"""
