"""Masking of personal data (PROTOCOLS.md Part E)."""
from __future__ import annotations

import pytest

from dashboard.masking import mask_id_number, mask_name, mask_phone


@pytest.mark.parametrize("name,masked", [("张三", "张*"), ("张三丰", "张*丰"), ("欧阳娜娜", "欧**娜"),
                                         (" 李四 ", "李*"), ("王", "王"), ("", ""), (None, None)])
def test_names(name, masked):
    assert mask_name(name) == masked


@pytest.mark.parametrize("phone,masked", [("13812345678", "138****5678"), ("138-1234-5678", "138****5678"),
                                          ("029-87654321", "029****4321"), ("12345", "*****"),
                                          ("", ""), (None, None)])
def test_phones(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize("value,masked", [("610102199001011234", "610102********1234"),
                                          ("61010219900101123X", "610102********123X"),
                                          ("123456", "******"), (None, None)])
def test_id_numbers(value, masked):
    assert mask_id_number(value) == masked


def test_masked_values_do_not_contain_the_hidden_part():
    phone, idn = "13812345678", "610102199001011234"
    assert "1234" not in mask_phone(phone)[:7]
    assert "19900101" not in mask_id_number(idn)
    assert "三" not in mask_name("张三")
