"""Masking of personal data (PROTOCOLS.md Part E)."""
from __future__ import annotations

import pytest

from dashboard.masking import (MIN_NAME_LEN, NameMatcher, indexable_name, mask_id_number, mask_name, mask_phone,
                               mask_text)


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


# ---------------------------------------------------------------- known names in free text (issue #8)
KNOWN = NameMatcher(["张伟", "李娜", "王小明", "欧阳", "欧阳娜娜", "伟东", "Li", "管理员", "王", "张*", "13812345678"])


def test_only_real_names_are_indexed():
    # a surname alone, a role word, an already masked value and a number are never matched in free text
    assert KNOWN.names == {"张伟", "李娜", "王小明", "欧阳", "欧阳娜娜", "伟东", "Li"}
    assert indexable_name(" 赵大海 ") == "赵大海" and indexable_name("匿名") is None
    assert indexable_name("王") is None and len("王") < MIN_NAME_LEN


@pytest.mark.parametrize("text,masked", [
    ("张伟家门口漏水，电话13912345678", "张*家门口漏水，电话13912345678"),       # at the start (phones: mask_text)
    ("楼道里王小明的电动车堵住通道", "楼道里王*明的电动车堵住通道"),               # in the middle
    ("已通知李娜", "已通知李*"),                                                   # at the end
    ("张伟李娜两户相邻", "张*李*两户相邻"),                                          # two names back to back
    ("欧阳娜娜来电", "欧**娜来电"),                                                 # longest name wins over 欧阳
    ("欧阳来电", "欧*来电"),
    ("Call Li today, not Lily", "Call L* today, not Lily"),                         # Latin: whole words only
])
def test_known_names_are_masked_wherever_they_stand(text, masked):
    assert KNOWN.mask(text) == masked


def test_overlapping_names_leave_neither_readable():
    # 张伟 and 伟东 overlap in 张伟东: the leftmost match is masked and the rest shows no whole name
    out = KNOWN.mask("张伟东到场")
    assert out == "张*东到场" and "张伟" not in out and "伟东" not in out


@pytest.mark.parametrize("text", ["王小来过", "小明来过", "王小丽来过", "张先生家漏水", "伟大的工程", "李先生", "欧某",
                                  "管理员已处理", "Lily and Linda"])
def test_a_name_present_only_in_part_is_not_masked(text):
    assert KNOWN.mask(text) == text


def test_mask_text_masks_patterns_own_people_and_known_names_in_one_go():
    text = "张伟反映：赵大海家漏水，电话13912345678，身份证610102199001011234"
    out = mask_text(text, ["赵大海"], KNOWN)
    assert out == "张*反映：赵*海家漏水，电话139****5678，身份证610102********1234"
    assert mask_text(text, ["赵大海"]).startswith("张伟")  # without the index only the own people are masked
    assert NameMatcher().mask(text) == text and mask_text(None, (), KNOWN) is None


def test_one_pattern_holds_a_thousand_names_and_still_prefers_the_longest():
    names = [s + g for s in "王李张刘陈杨赵黄周吴" for g in ("伟", "芳", "娜", "秀英", "敏", "静", "丽", "强", "磊", "军",
                                                        "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀兰", "霞")]
    big = NameMatcher(names + [f"{n}{c}" for n in names for c in "东西南北"])
    assert len(big) == 1000
    assert big.mask("周秀兰在北门反映，陈静和杨超也在") == "周*兰在北门反映，陈*和杨*也在"
    assert big.mask("周秀兰北来电") == "周**北来电"  # 周秀兰北 is a name of its own


def test_a_layer_of_recent_names_masks_exactly_as_one_matcher_of_all():
    """The name index compiles its 160,000 names once and puts names that join later (a new reporter, a visited
    person) in a small layer over them; the two together must mask every text as one matcher of both sets does —
    overlapping and nested names across the layers included. Random names over a small alphabet (so they overlap
    and nest), random texts of the same characters, a fixed seed."""
    import random

    from dashboard.masking import LayeredMatcher

    rng = random.Random(20261207)
    cjk = "张王李赵欧阳娜伟明小东华"
    for _round in range(60):
        names = {"".join(rng.choice(cjk) for _ in range(rng.randint(2, 4))) for _ in range(rng.randint(3, 25))}
        names |= {rng.choice(["Li", "Lily", "Anna", "Ann", "Bo"]) for _ in range(rng.randint(0, 3))}
        names = {n for n in names if indexable_name(n)}
        recent = {n for n in names if rng.random() < 0.3}
        whole = NameMatcher(names)
        layered = LayeredMatcher(NameMatcher(names - recent), recent)
        assert layered.names == whole.names
        for _ in range(40):
            text = "".join(rng.choice(cjk + "，的 Ly") if rng.random() < 0.7 else rng.choice(sorted(names))
                           for _ in range(rng.randint(0, 30)))
            assert layered.mask(text) == whole.mask(text), (sorted(names - recent), sorted(recent), text)
    # a layer over a layer keeps one base; empty layers and texts pass through
    base = NameMatcher({"张伟"})
    twice = LayeredMatcher(LayeredMatcher(base, {"李娜"}), {"李娜", "王小明"})
    assert twice.base is base and twice.mask("张伟李娜王小明") == "张*李*王*明"
    assert LayeredMatcher(NameMatcher(), {"李娜"}).mask("李娜") == "李*"
    assert LayeredMatcher(base, set()).mask("张伟") == "张*" and LayeredMatcher(base, {"李娜"}).mask("") == ""
