"""Chinese identifiers are validated with their check characters; contact data is normalised."""

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fincare.customers import identity
from fincare.platform.errors import Invalid
from tests.factories import customers as make


def test_a_real_format_resident_id_yields_birth_date_and_gender() -> None:
    number = make.resident_id(birth="19900101", seq=123)  # odd sequence: male
    parsed = identity.resident_id(number)
    assert parsed.birth_date.isoformat() == "1990-01-01"
    assert parsed.gender == "male"
    assert identity.resident_id("11010519491231002X").gender == "female"  # the standard's example


@pytest.mark.parametrize("bad", ["11010519491231002", "110105194912310021", "11010519491331002X", "ABCDEFGHIJKLMNOPQR"])
def test_malformed_resident_ids_are_rejected_with_the_field(bad: str) -> None:
    with pytest.raises(Invalid) as error:
        identity.resident_id(bad)
    assert error.value.field == "id_number"


@given(st.text(alphabet="0123456789", min_size=17, max_size=17))
def test_exactly_one_check_character_is_valid(first17: str) -> None:
    valid = [c for c in "0123456789X" if _accepts(first17 + c)]
    assert len(valid) <= 1  # 0 when the digits hold no valid date


@given(st.text(alphabet="0123456789", min_size=8, max_size=8))
def test_the_birth_date_is_read_as_yyyymmdd_and_must_exist(birth: str) -> None:
    number = make.resident_id(birth=birth, seq=123)
    try:
        expected = date(int(birth[:4]), int(birth[4:6]), int(birth[6:]))
    except ValueError:
        expected = None
    if expected is None or expected.year < 1900 or expected > date.today():
        assert not _accepts(number)
    else:
        assert identity.resident_id(number).birth_date == expected


def test_full_width_digits_are_read_as_ascii_and_other_scripts_refused() -> None:
    number = make.resident_id(birth="19851231", seq=124)
    wide = number.translate(str.maketrans("0123456789X", "０１２３４５６７８９ｘ"))
    assert identity.resident_id(wide) == (number, date(1985, 12, 31), "female")
    arabic_indic = number.translate(str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩"))
    with pytest.raises(Invalid) as error:
        identity.resident_id(arabic_indic)
    assert error.value.field == "id_number"


def _accepts(number: str) -> bool:
    try:
        identity.resident_id(number)
    except Invalid:
        return False
    return True


def test_unified_social_credit_codes_are_checked() -> None:
    code = make.credit_code()
    assert identity.credit_code(code.lower()) == code
    wrong = code[:-1] + ("0" if code[-1] != "0" else "1")
    with pytest.raises(Invalid) as error:
        identity.credit_code(wrong)
    assert error.value.field == "credit_code"
    assert identity.credit_code("91350100M000100Y43") == "91350100M000100Y43"  # a published example


@pytest.mark.parametrize(("raw", "normal"), [("+86 138-1234-5678", "13812345678"), ("008613812345678", "13812345678"),
                                             ("19912345678", "19912345678")])
def test_mobile_numbers_are_normalised(raw: str, normal: str) -> None:
    assert identity.mobile(raw) == normal


@pytest.mark.parametrize("bad", ["12812345678", "1381234567", "138123456789", "phone"])
def test_bad_mobile_numbers_are_rejected(bad: str) -> None:
    with pytest.raises(Invalid):
        identity.mobile(bad)


def test_cards_pass_luhn_and_emails_are_lower_cased() -> None:
    assert identity.bank_card("4111 1111 1111 1111") == "4111111111111111"
    with pytest.raises(Invalid):
        identity.bank_card("4111111111111112")
    assert identity.email(" Zhang.San@Example.COM ") == "zhang.san@example.com"
    with pytest.raises(Invalid):
        identity.email("zhang@")


# -- card and ID numbers typed into free text -------------------------------------------------------

def _luhn(partial: str) -> str:
    return partial + identity.luhn_check_digit(partial)


def _wrong_check(first17: str) -> str:
    return first17 + next(c for c in "0123456789X" if c != identity.resident_id_check_char(first17))


_FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@given(st.sampled_from(["", "卡号", "我的卡号是", "card no. "]), st.sampled_from(["", "，请核实", " 被盗刷", "。"]),
       st.sampled_from(["", " ", "-"]), st.booleans())
def test_a_card_number_in_text_keeps_only_its_last_four_digits(before: str, after: str, separator: str,
                                                             fullwidth: bool) -> None:
    number = make.card()
    typed = separator.join(number[i:i + 4] for i in range(0, len(number), 4))
    typed = typed.translate(_FULLWIDTH) if fullwidth else typed
    redacted = identity.redact_identifiers(f"{before}{typed}{after}")
    last_four = typed.replace(" ", "").replace("-", "")[-4:]
    assert redacted == f"{before}{'*' * (len(number) - 4)}{last_four}{after}"
    assert number not in redacted and number[:12] not in redacted


def test_an_id_number_in_text_is_masked_like_the_customer_record_shows_it() -> None:
    number = make.resident_id()
    masked = f"{number[:3]}{'*' * 11}{number[-4:]}"
    assert identity.redact_identifiers(f"身份证{number}，已核实") == f"身份证{masked}，已核实"


def test_a_card_typed_next_to_a_date_or_amount_is_still_found() -> None:
    number = make.card()
    grouped = " ".join(number[i:i + 4] for i in range(0, len(number), 4))
    masked = "*" * (len(number) - 4) + number[-4:]
    assert identity.redact_identifiers(f"{grouped} 2026-11-23") == f"{masked} 2026-11-23"
    assert identity.redact_identifiers(f"2026 {grouped}") == f"2026 {masked}"
    other = make.card()
    assert identity.redact_identifiers(f"{number} {other}") == f"{masked} {'*' * (len(other) - 4)}{other[-4:]}"


def test_a_long_run_of_short_digit_groups_is_searched_group_by_group() -> None:
    for digit in "14":
        text = f"{digit} " * 10_000  # 20,000 characters: no recursion, no search over every window
        assert identity.redact_identifiers(text) == text


@pytest.mark.parametrize("before", ["流水 400012345675 ", "于 10:30 ", "6 ", "cardno", "卡号：", "\n"])
@pytest.mark.parametrize("after", ["", " 被扣款", "RMB", " 2026-11-23", "元"])
def test_a_number_typed_next_to_a_card_never_shows_the_card(before: str, after: str) -> None:
    number = make.card()[:16]
    number = number[:15] + identity.luhn_check_digit(number[:15])
    grouped = " ".join(number[i:i + 4] for i in range(0, 16, 4))
    assert identity.redact_identifiers(f"{before}{grouped}{after}") == f"{before}{'*' * 12}{number[-4:]}{after}"


@pytest.mark.parametrize(("typed", "masked"), [
    ("请致电13812345678谢谢", "请致电138****5678谢谢"),
    ("手机 138 1234 5678。", "手机 138****5678。"),
    ("+86-139-1234-5678", "+86-139****5678"),
    ("+8613912345678", "+86139****5678"),
    ("电话：１３８１２３４５６７８", "电话：138****5678"),
    ("13812345678,13912345678", "138****5678,139****5678"),
    ("２０２６ 13812345678", "２０２６ 138****5678"),
    ("请回电 2026 138-1234-5678", "请回电 2026 138****5678"),
    ("工号12345678 138 1234 5678", "工号12345678 138****5678"),
    ("订单 20261123 139 1234 5678 谢谢", "订单 20261123 139****5678 谢谢"),
    ("+86 12345678901 13812345678", "+86 12345678901 138****5678"),
    ("手机138.1234.5678", "手机138****5678"),
    ("手机 138  1234  5678 联系", "手机 138****5678 联系"),
    ("+86  138 1234 5678", "+86  138****5678"),
])
def test_a_mobile_number_in_text_is_masked_like_the_customer_record_shows_it(typed: str, masked: str) -> None:
    assert identity.redact_phones(typed) == masked
    assert identity.redact_phones(masked) == masked  # twice: nothing more


@pytest.mark.parametrize("text", ["订单1381234567890", "12345678901", "86 12345678901", "金额 1000 元 2026-11-23",
                                  "流水 20261123000123", "客户号 1381234567",
                                  "利率 0.13812345678", "138.1234.56789"])
def test_other_numbers_in_text_are_not_taken_for_a_mobile_number(text: str) -> None:
    assert identity.redact_phones(text) == text


def test_full_width_typing_is_masked_too() -> None:
    number, card = make.resident_id(), make.card()
    full_id = number.translate(_FULLWIDTH)
    assert identity.redact_identifiers(f"身份证{full_id}") == f"身份证{number[:3]}{'*' * 11}{number[-4:]}"
    spaced = "\u3000".join(card[i:i + 4] for i in range(0, len(card), 4)).translate(_FULLWIDTH)
    assert card[-4:].translate(_FULLWIDTH) in (redacted := identity.redact_identifiers(f"卡{spaced}"))
    assert redacted.startswith("卡" + "*" * (len(card) - 4))


@given(st.lists(st.sampled_from(["卡", " ", "-", "1", "4", "6222", "0212", "3456", "7894", "2026", "X", "*"]),
                max_size=40))
def test_redacting_twice_changes_nothing_more(pieces: list[str]) -> None:
    once = identity.redact_identifiers("".join(pieces))
    assert identity.redact_identifiers(once) == once
