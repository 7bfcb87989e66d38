"""Outline alignment on blocks built by hand: the format-free part of extraction."""

from extractors.model import Block
from extractors.outline import sections
from pipeline.settings import default_rules
from rules.campaign import load_campaign

OUTLINE = load_campaign(f"{default_rules()}/nq03-2022.yml").outline


def h(text, **kw):
    return Block(text, bold=True, **kw)


def p(text):
    return Block(text)


def standard(titles=None, skip=(), inline=False):
    titles = titles or {}
    doc = [h("BÁO CÁO"), p("Sơ kết 01 năm thực hiện Nghị quyết số 03-NQ/ĐUK"), p("Thực hiện Công văn số 125-CV/ĐUK ...")]
    numbering = {"I": "I.", "I.1": "1.", "I.2": "2.", "I.3": "3.", "II": "II.", "II.1": "1.", "II.2": "2.",
                 "II.3": "3.", "III": "III."}
    for node in OUTLINE:
        if node.key in skip:
            continue
        title = titles.get(node.key, node.title)
        if inline and node.level == 1:
            doc.append(p(f"{numbering[node.key]} {title}: nội dung của mục {node.key} viết liền sau tiêu đề."))
        else:
            doc.append(h(f"{numbering[node.key]} {title}"))
        if node.level == 1 or node.key == "III":
            doc.append(p(f"Nội dung của mục {node.key}."))
    doc += [p("Trên đây là báo cáo sơ kết của Đảng ủy."), p("Nơi nhận:"), p("- Như trên,"), p("T/M ĐẢNG ỦY"),
            p("BÍ THƯ"), p("Nguyễn Văn A")]
    return doc


def by_key(blocks):
    found, missing = sections(blocks, OUTLINE)
    return {s.key: s for s in found}, missing


def test_every_section_found_with_its_text():
    found, missing = by_key(standard())
    assert missing == []
    assert list(found) == [n.key for n in OUTLINE]
    assert found["I"].text == ""
    assert found["II.2"].text == "Nội dung của mục II.2."
    assert all(s.confidence >= 0.65 for s in found.values())


def test_closing_sentence_and_signature_are_not_in_the_last_section():
    found, _ = by_key(standard())
    assert found["III"].text == "Nội dung của mục III."


def test_reworded_titles_are_matched():
    found, missing = by_key(standard({"II.2": "Những hạn chế, bất cập", "III": "KIẾN NGHỊ, ĐỀ XUẤT",
                                      "I.1": "Đặc điểm, tình hình"}))
    assert missing == []
    assert found["II.2"].text == "Nội dung của mục II.2."
    assert found["III"].heading.startswith("III.")


def test_inline_headings_keep_their_text():
    found, missing = by_key(standard(inline=True))
    assert missing == []
    assert found["I.1"].text.startswith("nội dung của mục I.1 viết liền sau tiêu đề.")


def test_missing_section_is_reported_and_neighbours_stay_right():
    found, missing = by_key(standard(skip={"II.3"}))
    assert missing == ["II.3"]
    assert found["II.2"].text == "Nội dung của mục II.2."


def test_extra_top_level_section_is_kept_apart():
    blocks = standard()
    end = next(i for i, b in enumerate(blocks) if b.text.startswith("Trên đây"))
    blocks[end:end] = [h("IV. PHƯƠNG HƯỚNG, NHIỆM VỤ THỜI GIAN TỚI"), p("Tiếp tục thực hiện tốt quy chế.")]
    found, _ = by_key(blocks)
    assert found["III"].text == "Nội dung của mục III."
    extra = [s for s in found.values() if s.extra]
    assert len(extra) == 1 and extra[0].text == "Tiếp tục thực hiện tốt quy chế."


def test_numbered_list_inside_a_section_is_not_a_heading():
    blocks = standard()
    at = next(i for i, b in enumerate(blocks) if b.text == "Nội dung của mục I.3.") + 1
    blocks[at:at] = [p("1. Công khai dự toán ngân sách."), p("2. Công khai tuyển dụng, bổ nhiệm cán bộ.")]
    found, _ = by_key(blocks)
    assert "Công khai tuyển dụng" in found["I.3"].text
    assert found["II"].heading.startswith("II.")


def test_word_numbering_labels_count_as_numbers():
    blocks = standard()
    for b in blocks:
        if b.bold and b.text[:1] in "I123" and ". " in b.text:
            label, _, rest = b.text.partition(" ")
            b.number_label, b.text, b.bold = label, rest, False
            b.style = "Heading 2" if label[0].isdigit() else "Heading 1"
    found, missing = by_key(blocks)
    assert missing == [] and found["II.1"].text == "Nội dung của mục II.1."
