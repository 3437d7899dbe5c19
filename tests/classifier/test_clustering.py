"""Hot-issue clustering on made-up letters: matters kept together, places kept apart, labels drawn
only from the letters a reader may see, the spike rule, and the evaluation scores."""

from __future__ import annotations

import datetime as dt

import pytest

from classifier.clustering import (
    ClusterConfig,
    LetterDoc,
    cluster_letters,
    is_spike,
    labels_of,
    place_tokens,
    score,
    week_slot,
    weeks_ending,
)

D = dt.date(2026, 11, 2)  # a Monday


def day(offset: int) -> dt.date:
    return D + dt.timedelta(days=offset)


PLANT = [
    LetterDoc(
        "投诉A2区青枫小区旁搅拌站噪音扰民",
        "青枫小区旁边新建搅拌站，每天噪音和粉尘严重，居民无法休息。",
        day(0),
    ),
    LetterDoc(
        "青枫小区附近搅拌站粉尘太大",
        "A2区青枫小区附近的搅拌站粉尘很大，晚上还有噪音，请环保部门查处。",
        day(3),
    ),
    LetterDoc(
        "A2区青枫小区搅拌站何时搬走", "青枫小区业主反映搅拌站噪音粉尘扰民，请问何时搬走搅拌站。", day(8)
    ),
    LetterDoc("再次反映青枫小区搅拌站扰民", "上次反映的青枫小区旁搅拌站噪音问题仍未解决，粉尘严重。", day(9)),
]
BUS = [
    LetterDoc("建议增加A7县308路公交班次", "308路公交车高峰期二十分钟一趟，太难等了，建议增加班次。", day(1)),
    LetterDoc(
        "A7县308路公交车太难等", "每天坐308路公交上班，班次太少，等车要半小时，请增加308路班次。", day(10)
    ),
    LetterDoc("308路公交班次少", "A7县308路公交车班次少，高峰期挤不上车，希望公交公司增加车辆。", day(11)),
]
OTHERS = [
    LetterDoc("A5区桂园路路灯不亮", "桂园路一段路灯坏了两个月，晚上出行不安全。", day(2)),
    LetterDoc("咨询新生儿医保办理", "小孩刚出生，请问城乡居民医保在哪里办理，需要哪些材料。", day(4)),
    LetterDoc("A3区某公司拖欠工资", "本人在A3区某装饰公司工作三个月，公司拖欠工资不发。", day(5)),
]


def _groups(letters: list[LetterDoc], config: ClusterConfig | None = None) -> list[set[int]]:
    clustering = cluster_letters(letters, config)
    return [set(c.members) for c in clustering.clusters]


def test_letters_on_one_matter_cluster_together_and_others_stay_apart() -> None:
    letters = PLANT + BUS + OTHERS
    groups = _groups(letters)
    assert set(range(4)) in groups, groups
    assert {4, 5, 6} in groups, groups
    for single in (7, 8, 9):
        assert {single} in groups, groups
    # Largest first.
    assert groups[0] == set(range(4))


def test_a_high_threshold_keeps_every_letter_apart() -> None:
    groups = _groups(PLANT + BUS, ClusterConfig(threshold=0.99, floor=0.04))
    assert all(len(g) == 1 for g in groups) and len(groups) == 7


def test_the_place_penalty_keeps_the_same_complaint_at_two_compounds_apart() -> None:
    # Word for word the same complaint, only the compound differs: the tuned default (no penalty)
    # joins them in so small a set, where the shared words weigh most; the penalty parts them.
    other_place = [
        LetterDoc(d.title.replace("青枫", "紫荆"), d.text.replace("青枫", "紫荆"), d.date) for d in PLANT[:3]
    ]
    letters = PLANT[:3] + other_place + OTHERS
    apart = _groups(letters, ClusterConfig(place_penalty=0.0))
    assert {0, 1, 2} in apart and {3, 4, 5} in apart, apart
    assert {0, 1, 2, 3, 4, 5} in _groups(letters, ClusterConfig(place_penalty=1.0))


def test_weekly_counts_first_and_last_dates() -> None:
    clustering = cluster_letters(PLANT + OTHERS, since=D, until=day(13))
    plant = next(c for c in clustering.clusters if len(c.members) == 4)
    assert plant.weeks == (D, D + dt.timedelta(weeks=1))
    assert plant.weekly == (2, 2)
    assert (plant.first, plant.last) == (day(0), day(9))
    assert sum(sum(c.weekly) for c in clustering.clusters) == len(PLANT + OTHERS)


def test_description_uses_only_eligible_members() -> None:
    secret = LetterDoc(
        "举报青枫小区搅拌站老板行贿王科长", "青枫小区搅拌站老板向王科长行贿，王科长包庇搅拌站。", day(6)
    )
    letters = [*PLANT, secret]
    clustering = cluster_letters(letters)
    cluster = next(c for c in clustering.clusters if 4 in c.members)
    assert len(cluster.members) == 5, "the confidential letter still counts in the size"
    everyone = clustering.describe(cluster, cluster.members)
    shown = clustering.describe(cluster, [0, 1, 2, 3])
    assert any("搅拌站" in k for k in shown.keywords)
    assert shown.central in (0, 1, 2, 3)
    secret_words = ("行贿", "王科长", "包庇", "老板")
    assert not any(w in k for k in shown.keywords for w in secret_words), shown.keywords
    nothing = clustering.describe(cluster, [])
    assert nothing.keywords == () and nothing.central is None
    assert everyone.central is not None


def test_keywords_keep_place_names_whole() -> None:
    clustering = cluster_letters(PLANT + BUS + OTHERS)
    plant = clustering.clusters[0]
    words = clustering.describe(plant, plant.members).keywords
    assert any(k.startswith("青枫") for k in words), words


def test_place_tokens() -> None:
    found = place_tokens("A市A2区暮云街道青枫小区旁，茶场村五组和劳动东路")
    assert {"A市", "A2区"} <= set(found)
    assert any(t.endswith("小区") and "青枫" in t for t in found), found
    assert any(t.endswith("路") and "劳动东" in t for t in found), found


def test_empty_and_single_inputs() -> None:
    assert cluster_letters([]).clusters == ()
    one = cluster_letters([OTHERS[0]])
    assert [c.members for c in one.clusters] == [(0,)]
    # Letters without a word in common (nothing but punctuation): each its own cluster.
    blank = cluster_letters([LetterDoc("", "！！", D), LetterDoc("", "？", D)])
    assert sorted(c.members for c in blank.clusters) == [(0,), (1,)]


def test_a_bad_threshold_is_refused_in_chinese() -> None:
    with pytest.raises(ValueError, match="阈值"):
        cluster_letters(PLANT, ClusterConfig(threshold=1.5))
    with pytest.raises(ValueError, match="阈值"):
        cluster_letters(PLANT, ClusterConfig(threshold=0.1, floor=0.2))


@pytest.mark.parametrize(
    ("weekly", "spike"),
    [
        ((), False),
        ((3,), True),  # a new matter with three letters in its first week
        ((2,), False),  # under the minimum
        ((0, 0, 0, 3), True),  # nothing before: three is a spike
        ((1, 1, 1, 2), False),  # under the minimum
        ((2, 2, 2, 4), True),  # twice the median
        ((2, 2, 2, 3), False),  # growing, but not twice
        ((5, 0, 6, 9), False),  # median of 0, 5, 6 is 5: 9 < 10
        ((0, 10, 0, 0, 3), True),  # one loud week does not move the median
    ],
)
def test_spike_rule(weekly: tuple[int, ...], spike: bool) -> None:
    assert is_spike(weekly, factor=2.0, minimum=3) is spike


def test_a_spike_is_flagged_on_the_cluster() -> None:
    late = [LetterDoc(d.title, d.text, day(21 + i % 3)) for i, d in enumerate(PLANT)]
    clustering = cluster_letters(late + OTHERS, since=D, until=day(23))
    plant = clustering.clusters[0]
    assert plant.weekly[-1] == 4 and plant.spike
    assert not any(c.spike for c in clustering.clusters[1:])


def test_weeks_end_on_the_windows_last_day() -> None:
    # Seven whole days at the end, whatever weekday the window ends on.
    end = dt.date(2026, 11, 16)  # a Monday
    assert weeks_ending(dt.date(2026, 11, 4), end) == (
        dt.date(2026, 11, 3),
        dt.date(2026, 11, 10),
    )
    assert week_slot(end, end, 2) == 1 and week_slot(dt.date(2026, 11, 10), end, 2) == 1
    assert week_slot(dt.date(2026, 11, 9), end, 2) == 0 and week_slot(dt.date(2026, 11, 3), end, 2) == 0
    assert (
        week_slot(dt.date(2026, 11, 2), end, 2) is None and week_slot(dt.date(2026, 11, 17), end, 2) is None
    )


def test_scores() -> None:
    perfect = score(["a", "a", "b", "c"], [1, 1, 2, 3])
    assert perfect.ari == pytest.approx(1.0) and perfect.pair_f1 == pytest.approx(1.0)
    assert perfect.bcubed_f1 == pytest.approx(1.0)
    merged = score(["a", "a", "b", "b"], [1, 1, 1, 1])
    assert merged.pair_recall == 1.0 and merged.pair_precision == pytest.approx(2 / 6)
    assert merged.bcubed_precision == pytest.approx(0.5) and merged.bcubed_recall == 1.0
    split = score(["a", "a", "a", "b"], [1, 2, 3, 4])
    assert split.pair_precision == 1.0 and split.pair_recall == 0.0 and split.ari == pytest.approx(0.0)
    with pytest.raises(ValueError):
        score(["a"], [1, 2])


def test_labels_of_covers_every_letter() -> None:
    letters = PLANT + BUS + OTHERS
    labels = labels_of(cluster_letters(letters), len(letters))
    assert -1 not in labels and labels[0] == labels[3] and labels[0] != labels[4]


def test_a_spike_is_seen_on_a_monday_morning() -> None:
    # Letters from Friday to Sunday, the window ending on Monday: "this week" is the last 7 days,
    # not a calendar week with nothing in it yet.
    weekend = [LetterDoc(d.title, d.text, day(18 + i % 3)) for i, d in enumerate(PLANT)]
    clustering = cluster_letters(weekend + OTHERS, since=D, until=day(21))
    plant = clustering.clusters[0]
    assert day(21).weekday() == 0 and plant.weekly[-1] == 4 and plant.spike
