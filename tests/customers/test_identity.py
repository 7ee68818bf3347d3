"""Chinese identifiers are validated with their check characters; contact data is normalised."""

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
