"""`intake campaign draft`: a campaign file from the call letter itself."""

from __future__ import annotations

import io

import docx
import pytest
import yaml

from rules.campaign import load_campaign, parse_campaign
from rules.draft import CHECK, draft, to_yaml
from tests.conftest import CAMPAIGN_FILE, shared_path


def _campaign(text: str, **kw):
    data = yaml.safe_load(to_yaml(draft(text, **kw)))
    return parse_campaign(data, "draft.yml")


def test_seed_letter(run_cli, tmp_path):
    letter = shared_path("seed", "cong-van-so-ket-nq03.txt")
    out = tmp_path / "nq03.yml"
    assert run_cli("campaign", "draft", str(letter), "-o", str(out)).exit_code == 0
    c = load_campaign(out)
    assert c.id == "nq03-2022"
    assert c.title == "Sơ kết 01 năm thực hiện Nghị quyết số 03-NQ/ĐUK"
    assert c.outline_keys == ["I", "I.1", "I.2", "I.3", "II", "II.1", "II.2", "II.3", "III"]
    titles = {n.key: n.title for n in c.outline}
    assert titles["II.1"] == "Ưu điểm"  # "Ƣu điểm" in the letter: glyph damage repaired
    assert titles["I.2"].endswith("ngày 17/6/2021 của Đảng ủy Khối các cơ quan tỉnh")  # wrapped line joined
    assert titles["III"] == "ĐỀ XUẤT, KIẾN NGHỊ"
    assert c.deadline.isoformat() == "2022-06-15T00:00:00+07:00"
    rules = {a.id: a for a in c.attachments}
    assert rules["quy_che_dan_chu"].required is True
    assert rules["quyet_dinh_bcd"].required == "if_mentioned"
    assert rules["quyet_dinh_bcd"].mentioned_by == ("thành lập ban chỉ đạo",)
    assert "03-NQ/ĐUK" in c.keywords and "NQ03" in c.keywords
    text = out.read_text(encoding="utf-8")
    assert CHECK in text and "deadline" in text


LETTER = """ĐẢNG ỦY KHỐI CÁC CƠ QUAN TỈNH
Số 210-CV/ĐUK
V/v báo cáo tổng kết Chỉ thị số 05-CT/TW
Kính gửi: Các tổ chức cơ sở đảng trực thuộc.
Đề nghị các đơn vị báo cáo theo đề cương gửi kèm. Báo cáo gửi về Văn phòng {deadline}{attach}.
ĐỀ CƯƠNG BÁO CÁO
Tổng kết 05 năm thực hiện Chỉ thị số 05-CT/TW
I. KẾT QUẢ THỰC HIỆN
1. Công tác lãnh đạo
a) Việc quán triệt
b) Việc ban hành kế hoạch
2. Kết quả cụ thể
- Những việc đã làm được
II. PHƯƠNG HƯỚNG, NHIỆM VỤ
"""


@pytest.mark.parametrize("phrase, expected", [
    ("chậm nhất ngày 20/7/2023", "2023-07-21T00:00:00+07:00"),
    ("trước 17 giờ ngày 05/8/2023", "2023-08-05T17:00:00+07:00"),
    ("trước 17h00 ngày 5/8/2023", "2023-08-05T17:00:00+07:00"),
    ("trước ngày 15 tháng 9 năm 2023", "2023-09-15T00:00:00+07:00"),
])
def test_deadline_phrases(phrase, expected):
    assert draft(LETTER.format(deadline=phrase, attach="")).deadline.isoformat() == expected


def test_three_level_outline_and_no_attachments():
    c = _campaign(LETTER.format(deadline="trước ngày 30/6/2023", attach=""))
    assert c.outline_keys == ["I", "I.1", "I.1.a", "I.1.b", "I.2", "II"]
    assert c.outline[2].title == "Việc quán triệt" and c.outline[2].level == 2
    assert c.attachments == []
    assert c.id == "ct05-2023" and "05-CT/TW" in c.keywords
    assert c.title == "Tổng kết 05 năm thực hiện Chỉ thị số 05-CT/TW"


def test_attachments_with_and_without_nếu_có():
    text = LETTER.format(deadline="trước ngày 30/6/2023",
                         attach=" kèm theo kế hoạch thực hiện của cơ quan và danh sách cán bộ tham gia (nếu có)")
    c = _campaign(text)
    rules = {a.id: a for a in c.attachments}
    assert rules["ke_hoach_thuc_hien"].required is True
    optional = rules["danh_sach_cbtg"]
    assert optional.required == "if_mentioned" and optional.mentioned_by == ("cán bộ tham gia",)


def test_no_deadline_is_left_for_staff_to_fill():
    text = to_yaml(draft("ĐỀ CƯƠNG\nI. TÌNH HÌNH\nII. KIẾN NGHỊ"))
    assert "deadline: null" in text and "không tìm thấy thời hạn" in text


def test_docx_letter_and_units_csv(run_cli, tmp_path):
    document = docx.Document()
    for line in LETTER.format(deadline="trước ngày 30/6/2023", attach="").splitlines():
        document.add_paragraph(line)
    buf = io.BytesIO()
    document.save(buf)
    (tmp_path / "cv.docx").write_bytes(buf.getvalue())
    (tmp_path / "units.csv").write_text("id,name,emails\nso-y-te,Đảng ủy Sở Y tế,a@syt.vn; b@syt.vn\n",
                                        encoding="utf-8")
    out = tmp_path / "c.yml"
    result = run_cli("campaign", "draft", str(tmp_path / "cv.docx"), "--units", str(tmp_path / "units.csv"),
                     "-o", str(out))
    assert result.exit_code == 0, result.output
    c = load_campaign(out)
    assert c.units[0].emails == ("a@syt.vn", "b@syt.vn") and c.outline_keys[0] == "I"


def test_campaign_check(run_cli, tmp_path):
    result = run_cli("campaign", "check", str(CAMPAIGN_FILE))
    assert result.exit_code == 0 and "quyet_dinh_bcd" in result.output and "II.3" in result.output
    bad = tmp_path / "bad.yml"
    bad.write_text("id: x\n", encoding="utf-8")
    result = run_cli("campaign", "check", str(bad))
    assert result.exit_code == 2 and "bad.yml" in result.output
