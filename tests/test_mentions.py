import pytest

from rules.mentions import mention

PHRASES = ["thành lập Ban Chỉ đạo"]


@pytest.mark.parametrize("text, expected", [
    ("Cấp ủy đã tham mưu ban hành quyết định thành lập Ban Chỉ đạo thực hiện quy chế dân chủ.", True),
    ("Đã thành lập ban chỉ đạo gồm 5 đồng chí.", True),
    ("Do đơn vị có ít đảng viên nên không thành lập Ban Chỉ đạo; chi ủy trực tiếp lãnh đạo.", False),
    ("Chi bộ chưa thành lập Ban Chỉ đạo.", False),
    ("Đơn vị chưa tiến hành thành lập Ban Chỉ đạo (do ít đảng viên).", False),
    ("Không có khó khăn. Cấp ủy đã thành lập Ban Chỉ đạo.", True),
    ("Báo cáo không nói gì về việc này.", None),
    ("DA THANH LAP BAN CHI DAO", True),  # typed without diacritics
])
def test_affirmation_and_denial(text, expected):
    assert mention(text, PHRASES) is expected


def test_no_phrases_means_no_mention():
    assert mention("thành lập Ban Chỉ đạo", []) is None
