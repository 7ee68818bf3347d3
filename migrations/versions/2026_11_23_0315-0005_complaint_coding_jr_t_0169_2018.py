"""complaint coding JR/T 0169-2018

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 03:15:51.498511
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


# JR/T 0169-2018 (银行业金融机构): the top-level classes of its three dimensions, numbered in the order the
# standard lists them, "other" as 99 as the standard does. Institutions add finer codes as `custom`.
STANDARD = "JR/T 0169-2018"
CODES = {
    "channel": [("A01", "营业现场", "Counter"), ("A02", "自助机具", "Self-service devices"),
                ("A03", "网上银行", "Online banking"), ("A04", "电话银行", "Phone banking"),
                ("A05", "移动客户端", "Mobile app"), ("A06", "网络公众平台", "Online platforms (WeChat etc.)"),
                ("A07", "短信", "SMS"), ("A08", "第三方渠道", "Third party"),
                ("A09", "中、后台业务", "Middle and back office"), ("A99", "其他渠道", "Other channel")],
    "business_type": [("B01", "人民币储蓄", "Deposits"), ("B02", "贷款", "Loans"), ("B03", "银行卡", "Bank cards"),
                      ("B04", "支付结算", "Payment and settlement"), ("B05", "人民币管理", "RMB management"),
                      ("B06", "个人金融信息", "Personal financial information"), ("B07", "理财", "Wealth management"),
                      ("B08", "代理保险", "Insurance agency"), ("B99", "其他业务", "Other business")],
    "cause": [("C01", "服务态度及服务质量", "Service attitude and quality"),
              ("C02", "服务设施、设备、业务系统", "Facilities, equipment and systems"),
              ("C03", "管理制度、业务规则与流程", "Rules and processes"), ("C04", "营销方式", "Marketing methods"),
              ("C05", "信息披露", "Information disclosure"), ("C06", "产品收益", "Product returns"),
              ("C07", "自主选择权", "Freedom of choice"), ("C08", "合同条款", "Contract terms"),
              ("C09", "消费者资金安全", "Fund safety"), ("C10", "消费者信息安全", "Information security"),
              ("C99", "其他原因", "Other cause")],
}


def upgrade() -> None:
    op.create_table('complaint_code',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('version', sa.String(length=30), nullable=False),
    sa.Column('dimension', sa.String(length=16), nullable=False),
    sa.Column('code', sa.String(length=12), nullable=False),
    sa.Column('name_zh', sa.String(length=80), nullable=False),
    sa.Column('name_en', sa.String(length=120), nullable=False),
    sa.Column('parent_code', sa.String(length=12), nullable=True),
    sa.Column('custom', sa.Boolean(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_complaint_code')),
    sa.UniqueConstraint('version', 'dimension', 'code', name=op.f('uq_complaint_code_version'))
    )
    op.add_column('ticket', sa.Column('code_version', sa.String(length=30), nullable=True))
    op.add_column('ticket', sa.Column('channel_code', sa.String(length=12), nullable=True))
    op.add_column('ticket', sa.Column('business_type_code', sa.String(length=12), nullable=True))
    op.add_column('ticket', sa.Column('cause_code', sa.String(length=12), nullable=True))
    table = sa.table("complaint_code", sa.column("version"), sa.column("dimension"), sa.column("code"),
                     sa.column("name_zh"), sa.column("name_en"), sa.column("custom", sa.Boolean),
                     sa.column("active", sa.Boolean))
    op.bulk_insert(table, [{"version": STANDARD, "dimension": dimension, "code": code, "name_zh": zh, "name_en": en,
                            "custom": False, "active": True}
                           for dimension, codes in CODES.items() for code, zh, en in codes])


def downgrade() -> None:
    op.drop_column('ticket', 'cause_code')
    op.drop_column('ticket', 'business_type_code')
    op.drop_column('ticket', 'channel_code')
    op.drop_column('ticket', 'code_version')
    op.drop_table('complaint_code')
