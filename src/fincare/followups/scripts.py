"""Call scripts (回访话术) a follow-up agent reads from, per kind of follow-up, in Chinese and English.

Kept here rather than in a template so that compliance can review the wording in one place. A script
is a list of steps; `{reference}` in a step stands for the ticket's reference (or "—").
"""

from __future__ import annotations

from dataclasses import dataclass

from fincare.followups.models import FollowUpKind


@dataclass(frozen=True)
class Script:
    """One kind's call script in both console languages."""

    zh: tuple[str, ...]
    en: tuple[str, ...]

    def steps(self, language: str, *, reference: str = "—") -> list[str]:
        lines = self.zh if language == "zh-CN" else self.en
        return [line.format(reference=reference) for line in lines]


_OPENING_ZH = "您好，我是本行客户服务中心的回访专员。请问现在方便占用您两分钟时间吗？"
_OPENING_EN = "Hello, this is the bank's customer service centre calling. Do you have two minutes to talk?"
_IDENTITY_ZH = "为保护您的信息安全，本次回访不会询问密码、验证码或完整卡号。"
_IDENTITY_EN = "To protect you, we will never ask for a password, a verification code or a full card number."
_CLOSING_ZH = "感谢您的宝贵意见，祝您生活愉快，再见。"
_CLOSING_EN = "Thank you for your time and your views. Goodbye."

SCRIPTS: dict[FollowUpKind, Script] = {
    FollowUpKind.COMPLAINT: Script(
        zh=(_OPENING_ZH, _IDENTITY_ZH,
            "您此前反映的问题（编号 {reference}）我行已处理完毕，并已告知处理结果。请问您是否已收到处理结果？",
            "请问您对本次投诉的处理结果是否满意？",
            "如不满意：请问主要是哪方面不满意？您可以选择重新处理本投诉，或申请上一级机构核查。",
            _CLOSING_ZH),
        en=(_OPENING_EN, _IDENTITY_EN,
            "Your complaint (reference {reference}) has been resolved and the decision sent to you. "
            "Did you receive it?",
            "Are you satisfied with how your complaint was handled?",
            "If not: what are you unhappy with? We can reopen the complaint, or you may ask for a review by the "
            "superior level.",
            _CLOSING_EN),
    ),
    FollowUpKind.KEY_CUSTOMER: Script(
        zh=(_OPENING_ZH, _IDENTITY_ZH,
            "这是我行对重点客户的定期回访。请问近期您在使用我行产品和服务时是否顺利？",
            "您对客户经理和网点的服务是否满意？有没有需要我们改进的地方？",
            "您近期是否有新的金融需求，需要客户经理与您联系？",
            _CLOSING_ZH),
        en=(_OPENING_EN, _IDENTITY_EN,
            "This is our regular call to valued customers. Have our products and services worked well for you lately?",
            "Are you satisfied with your relationship manager and our branch? Is there anything we should improve?",
            "Do you have any new needs you would like your relationship manager to contact you about?",
            _CLOSING_EN),
    ),
    FollowUpKind.HIGH_RISK_SALES: Script(
        zh=(_OPENING_ZH, _IDENTITY_ZH,
            "您近期购买了风险等级较高的产品。请问购买时工作人员是否向您说明了产品风险、可能的本金损失和费用？",
            "请问购买时是否进行了风险评估，产品风险等级与您的风险承受能力是否相符？是否有录音录像（双录）？",
            "请问是否有人承诺保本保收益，或让您代签、代填风险测评？",
            "如您有任何疑问或希望反映问题，可拨打客服热线或前往任一网点。",
            _CLOSING_ZH),
        en=(_OPENING_EN, _IDENTITY_EN,
            "You recently bought a higher-risk product. Were its risks, the possible loss of capital and its fees "
            "explained to you?",
            "Was your risk profile assessed, and did the product's risk level match it? Was the sale recorded "
            "(audio and video)?",
            "Did anyone promise you a guaranteed return, or sign or fill in the risk questionnaire for you?",
            "If you have any question or concern, call our hotline or visit any branch.",
            _CLOSING_EN),
    ),
    FollowUpKind.RECOVERY: Script(
        zh=(_OPENING_ZH, _IDENTITY_ZH,
            "您在满意度调查中（编号 {reference}）给了较低的评价，我们非常重视。请问是哪方面让您不满意？",
            "针对您的意见，我们可以为您做些什么？",
            "如您的问题尚未解决，可重新处理相关投诉，或申请上一级机构核查。",
            _CLOSING_ZH),
        en=(_OPENING_EN, _IDENTITY_EN,
            "In our survey (reference {reference}) you told us you were not satisfied, and we take that seriously. "
            "What went wrong?",
            "What can we do to put it right?",
            "If the problem is not solved, we can reopen the complaint, or you may ask for a review by the superior "
            "level.",
            _CLOSING_EN),
    ),
}


def script_for(kind: str, language: str, *, reference: str | None = None) -> list[str]:
    """The steps of `kind`'s call script in `language` ("zh-CN" or "en"); none for an unknown kind."""
    try:
        script = SCRIPTS[FollowUpKind(kind)]
    except ValueError:
        return []
    return script.steps(language, reference=reference or "—")
