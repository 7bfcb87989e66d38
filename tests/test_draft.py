"""`intake campaign draft`: a campaign file from the call letter itself."""

from __future__ import annotations

import io

import docx
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from rules.campaign import load_campaign, parse_campaign
from rules.draft import CHECK, draft, to_yaml
from tests.conftest import CAMPAIGN_FILE, shared_path
from tests.fixtures.letters import outline_pairs


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


# --- call letters as ministries, People's Committees and departments write them (issue 20) ---------------

def _keys_titles(d) -> list[tuple[str, str]]:
    return outline_pairs(d.outline)


def test_letterhead_dates_and_document_numbers_are_not_labels():
    from rules.draft_outline import parse_label

    for line in ("V/v chuẩn bị nội dung làm việc với Đoàn kiểm tra", "Số: 4521/UBND-TH", "Kính gửi: Sở Y tế",
                 "17/6/2021 của Đảng ủy Khối", "03-NQ/ĐUK ngày 17/6/2021", "15.6.2022 là hạn nộp"):
        assert parse_label(line) == (None, line), line
    assert parse_label("V. KIẾN NGHỊ")[0].value == 5
    from rules.draft_outline import is_de_cuong_title

    assert is_de_cuong_title("ĐỀ CƯƠNG BÁO CÁO") and is_de_cuong_title("Đề cương gợi ý báo cáo")
    assert not is_de_cuong_title("đề cương gửi kèm theo Công văn này")  # a sentence wrapped onto the line
    assert parse_label("PHẦN THỨ HAI: PHƯƠNG HƯỚNG")[0].kind == "part"


def test_parts_are_a_level_above_roman_numbers_and_take_the_next_line_as_title():
    text = ("ĐỀ CƯƠNG BÁO CÁO\n(Kèm theo Công văn số 12/UBND-TH ngày 02/11/2025)\nPhần thứ nhất\n"
            "KẾT QUẢ THỰC HIỆN NHIỆM VỤ NĂM 2025\nI. CÔNG TÁC CHỈ ĐẠO\n1. Về kinh tế\nII. ĐÁNH GIÁ CHUNG\n"
            "PHẦN THỨ HAI\nPHƯƠNG HƯỚNG, NHIỆM VỤ\nNĂM 2026\n1. Mục tiêu\na) Chỉ tiêu chủ yếu\n- Tăng trưởng\n"
            "Phần III. KIẾN NGHỊ")
    assert _keys_titles(draft(text)) == [
        ("I", "KẾT QUẢ THỰC HIỆN NHIỆM VỤ NĂM 2025"), ("I.I", "CÔNG TÁC CHỈ ĐẠO"), ("I.I.1", "Về kinh tế"),
        ("I.II", "ĐÁNH GIÁ CHUNG"), ("II", "PHƯƠNG HƯỚNG, NHIỆM VỤ NĂM 2026"), ("II.1", "Mục tiêu"),
        ("II.1.a", "Chỉ tiêu chủ yếu"), ("III", "KIẾN NGHỊ")]


def test_a_list_numbered_1_under_a_heading_nests_below_it():
    text = "ĐỀ CƯƠNG\n1. Về kinh tế\n1) Tăng trưởng\n2) Thu ngân sách\n2. Về xã hội\na) Giáo dục\n1) Số trường"
    assert [key for key, _ in _keys_titles(draft(text))] == ["1", "1.1", "1.2", "2", "2.a", "2.a.1"]


def test_titles_are_heading_clauses_joined_over_wrapped_lines():
    text = ("ĐỀ CƯƠNG\nI. CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH CẢI CÁCH\n|\nHÀNH CHÍNH\n"
            "1. Kết quả giải quyết hồ sơ thủ tục hành chính: Tỷ lệ hồ sơ được giải quyết đúng hạn, trước hạn.\n"
            "2. Về kiểm tra công tác cải cách hành chính; số cơ quan được kiểm tra.\n"
            "3. Việc thực hiện cơ chế một cửa tại TP. Thanh Hóa. Số hồ sơ tiếp nhận trực tuyến.\n"
            "4. Việc lãnh đạo, quán triệt Chỉ thị số 21-CT/TU, ngày\n15/3/2023 của Ban Thường vụ Tỉnh ủy về công tác\n"
            "tuyên truyền miệng.\n- Hình thức tuyên truyền\nchủ yếu ở cơ sở\n"
            "II. ĐỀ XUẤT, KIẾN NGHỊ (nêu cụ thể vướng mắc và cơ quan có\nthẩm quyền giải quyết)./.")
    assert _keys_titles(draft(text)) == [
        ("I", "CÔNG TÁC CHỈ ĐẠO, ĐIỀU HÀNH CẢI CÁCH HÀNH CHÍNH"),
        ("I.1", "Kết quả giải quyết hồ sơ thủ tục hành chính"), ("I.2", "Về kiểm tra công tác cải cách hành chính"),
        ("I.3", "Việc thực hiện cơ chế một cửa tại TP. Thanh Hóa"),
        ("I.4", "Việc lãnh đạo, quán triệt Chỉ thị số 21-CT/TU, ngày 15/3/2023 của Ban Thường vụ Tỉnh ủy về công "
                "tác tuyên truyền miệng"),
        ("II", "ĐỀ XUẤT, KIẾN NGHỊ")]


def test_numbers_ocr_misread_are_taken_from_their_order_and_marked():
    text = ("ĐỀ CƯƠNG\n1. TÌNH HÌNH CHUNG\n1. Đặc điểm\n9, Kết quả khác\nH. KẾT QUẢ THỰC HIỆN\n1. Ưu điểm\n"
            "II. ĐÁNH GIÁ CHUNG\nHIL KIẾN NGHỊ")
    d = draft(text, scanned=True, doubtful=["II. ĐÁNH GIÁ CHUNG"])
    assert [key for key, _ in _keys_titles(d)] == ["I", "I.1", "I.9", "II", "II.1", "III", "IV"]
    checks = {node["key"]: node.get("check", "") for node in d.outline}
    assert "«1.», lấy I" in checks["I"] and "«H.», lấy II" in checks["II"]
    assert "«II.», lấy III" in checks["III"] and "OCR không chắc dòng «II. ĐÁNH GIÁ CHUNG»" in checks["III"]
    assert "# kiểm tra: số mục đọc là «HIL»" in to_yaml(d)
    from rules.draft_outline import parse_label

    assert parse_label("H. KẾT QUẢ THỰC HIỆN") == (None, "H. KẾT QUẢ THỰC HIỆN")  # typed text: not a number


def test_letter_own_numbered_paragraphs_are_no_outline():
    letter = ("BỘ GIÁO DỤC VÀ ĐÀO TẠO\nV/v chuẩn bị nội dung làm việc\nKính gửi: Các Sở Giáo dục và Đào tạo.\n"
              "I. NỘI DUNG LÀM VIỆC\n1. Kết quả năm học.\nII. TỔ CHỨC THỰC HIỆN\nCác Sở xây dựng báo cáo theo đề cương "
              "chi tiết tại Phụ lục 1 gửi kèm theo; báo cáo gửi về Bộ chậm nhất là ngày 01/12/2025.")
    d = draft(letter)
    assert d.outline == [] and "Phụ lục 1 gửi kèm theo" in d.doubts["outline"]
    assert d.title == "Chuẩn bị nội dung làm việc"
    d = draft(letter, outline_text="PHỤ LỤC 1\nĐỀ CƯƠNG BÁO CÁO\nI. KẾT QUẢ\nII. KIẾN NGHỊ")
    assert _keys_titles(d) == [("I", "KẾT QUẢ"), ("II", "KIẾN NGHỊ")] and "outline" not in d.doubts
    assert d.deadline.isoformat() == "2025-12-02T00:00:00+07:00"


SEVERAL_DATES = """Thực hiện Kế hoạch số 45/KH-UBND ngày 10/3/2025 của Ủy ban nhân dân tỉnh, Sở Nội vụ đề nghị:
1. Cập nhật tài liệu kiểm chứng lên Phần mềm chấm điểm trước 17 giờ 00 phút, ngày 05/12/2025.
2. Xây dựng báo cáo theo đề cương kèm theo Công văn này; báo cáo gửi về Sở Nội vụ {report}.
3. Tham dự Hội nghị tập huấn trước ngày 20/11/2025.
ĐỀ CƯƠNG
I. KẾT QUẢ (số liệu tính đến hết ngày 30/11/2025)
"""


@pytest.mark.parametrize("report, expected", [
    ("trước ngày 30/11/2025", "2025-11-30T00:00:00+07:00"),
    ("#ước ngày 30/11/2025", "2025-11-30T00:00:00+07:00"),  # "trước" in bold, as OCR reads it
    ("chậm nhất vào 10 giờ 30 ngày 28/11/2025", "2025-11-28T10:30:00+07:00"),
])
def test_the_report_deadline_not_an_upload_or_a_meeting(report, expected):
    d = draft(SEVERAL_DATES.format(report=report))
    assert d.deadline.isoformat() == expected
    assert "các thời hạn khác" not in d.doubts["deadline"]


def test_several_report_dates_are_listed_for_staff():
    d = draft("Báo cáo nhanh gửi về Sở trước ngày 10/12/2025; báo cáo chính thức gửi về Sở trước ngày 25/12/2025.\n"
              "ĐỀ CƯƠNG\nI. KẾT QUẢ")
    assert d.deadline.isoformat() == "2025-12-10T00:00:00+07:00"
    assert "các thời hạn khác trong công văn: «trước ngày 25/12/2025»" in d.doubts["deadline"]
    d = draft("Báo cáo gửi về Sở trước ngày 30/11/2025 (bản giấy).\nĐỀ CƯƠNG\nI. KẾT QUẢ", scanned=True,
              doubtful=["Báo cáo gửi về Sở trước ngày 30/11/2025 (bản giấy)."])
    assert "OCR không chắc dòng «Báo cáo gửi về Sở trước ngày 30/11/2025 (bản giấy).»" in d.doubts["deadline"]


def test_only_attachments_asked_for_with_the_report():
    letter = ("Căn cứ Quy chế làm việc ban hành kèm theo Quyết định số 15/2024/QĐ-UBND ngày 02/4/2024; đề nghị các "
              "đơn vị báo cáo theo đề cương kèm theo Công văn này và tổng hợp số liệu theo Biểu mẫu tại Phụ lục 2 "
              "kèm theo Công văn này. Đồng thời lập Phụ lục giải trình các chỉ tiêu không đạt (nếu có), nêu rõ nguyên "
              "nhân. Gửi kèm theo báo cáo danh sách các thủ tục hành chính được cắt giảm. Báo cáo gửi về Sở trước "
              "ngày 30/11/2025, kèm theo danh mục dự án chậm tiến độ (nếu có) để tổng hợp.\n"
              "ĐỀ CƯƠNG BÁO CÁO\n(Kèm theo Công văn số 2856/SNV-CCHC ngày 12/11/2025 của Sở Nội vụ)\nI. KẾT QUẢ")
    rules = {a["id"]: a for a in draft(letter).attachments}
    assert list(rules) == ["phu_luc_gtcct", "danh_sach_tthcd", "danh_muc_dactd"]
    assert rules["phu_luc_gtcct"]["mentioned_by"] == ["giải trình các chỉ tiêu không đạt"]
    assert rules["danh_sach_tthcd"]["required"] is True
    assert rules["danh_muc_dactd"]["mentioned_by"] == ["dự án chậm tiến độ"]


def test_the_letter_and_its_outline_among_a_mail_files():
    from rules.draft import pick_letter_and_outline

    letter = ("BỘ NỘI VỤ", "V/v báo cáo", "Kính gửi: Các Bộ, ngành.", "Báo cáo theo đề cương gửi kèm.")
    outline = ("PHỤ LỤC 1", "ĐỀ CƯƠNG BÁO CÁO", "I. KẾT QUẢ")
    assert pick_letter_and_outline([("Phu luc.docx", "\n".join(outline)), ("CV.pdf", "\n".join(letter))]) == (1, 0)
    assert pick_letter_and_outline([("CV.pdf", "\n".join(letter))]) == (0, None)
    whole = "\n".join(letter + outline)  # the letter carries its own đề cương: the other file is something else
    assert pick_letter_and_outline([("CV.pdf", whole), ("de cuong cu.docx", "\n".join(outline))]) == (0, None)


_PIECES = ["I.", "II.", "H.", "HIL", "1.", "1.1.", "a)", "1)", "-", "Phần thứ nhất", "PHẦN II", "V/v", "Số:", "9,", "|",
           "(", ")", "./.", ":", "KẾT QUẢ", "Đánh giá", "trước ngày 15/6/2022", "chậm nhất ngày 31/6/2022",
           "trước 25 giờ ngày 1/1/2023", "kèm theo", "danh sách", "(nếu có)", "để tổng hợp", "ĐỀ CƯƠNG", "Phụ lục 2",
           "báo cáo gửi về", "17/6/2021", "03-NQ/ĐUK", ".", "và"]


@settings(max_examples=200, deadline=None, derandomize=True, database=None)
@given(st.lists(st.lists(st.sampled_from(_PIECES), max_size=6).map(" ".join), max_size=25), st.booleans())
def test_any_letter_gives_a_draft_with_unique_keys(lines, scanned):
    """Whatever the letter says: no exception, YAML that loads, no outline key twice."""
    text = "\n".join(lines)
    data = yaml.safe_load(to_yaml(draft(text, scanned=scanned, doubtful=lines[:3], outline_text=text)))
    keys = [key for key, _ in outline_pairs(data["outline"])]
    assert len(keys) == len(set(keys)) and isinstance(data["title"], str) and data["title"]
