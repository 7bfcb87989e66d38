"""Outline alignment on blocks built by hand: the format-free part of extraction."""

from extractors.abbreviations import expand
from extractors.metadata import extract_metadata
from extractors.model import Block, OutlineNode
from extractors.outline import sections
from extractors.text import tokens
from pipeline.settings import default_rules
from rules.campaign import load_campaign

OUTLINE = load_campaign(f"{default_rules()}/nq03-2022.yml").outline


def h(text, **kw):
    return Block(text, bold=True, **kw)


def p(text):
    return Block(text)


def standard(titles=None, skip=(), inline=False):
    titles = titles or {}
    doc = [h("BÁO CÁO"), p("Sơ kết 01 năm thực hiện Nghị quyết số 03-NQ/ĐUK"),
           p("Thực hiện Công văn số 125-CV/ĐUK ...")]
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


# ---- harder layouts: each test is one behaviour, on blocks built by hand


def _with_extra(blocks, *extra):
    end = next(i for i, b in enumerate(blocks) if b.text.startswith("Trên đây"))
    blocks[end:end] = list(extra)
    return blocks


def test_mixed_separators_are_numbers():
    labels = {"I": "I -", "I.1": "1)", "I.2": "2 -", "I.3": "3)", "II": "II/", "II.1": "1)", "II.2": "2 -",
              "II.3": "3)", "III": "Phần III:"}
    titles = {n.title: n.key for n in OUTLINE}
    blocks = standard()
    for b in blocks:
        label, _, rest = b.text.partition(" ")
        if b.bold and rest in titles:
            b.text = f"{labels[titles[rest]]} {rest}"
    found, missing = by_key(blocks)
    assert missing == [] and found["III"].heading.startswith("Phần III")
    assert found["III"].text == "Nội dung của mục III." and found["II.2"].text == "Nội dung của mục II.2."


def test_list_items_inside_sections_stay_text():
    blocks = standard()
    at = next(i for i, b in enumerate(blocks) if b.text == "Nội dung của mục I.3.") + 1
    blocks[at:at] = [p("1. Công khai dự toán ngân sách;"), p("2. Công khai tuyển dụng, bổ nhiệm;"),
                     p("3. Kết quả thực hiện việc tiếp nhận ý kiến phản ánh."), p("- Hội nghị cán bộ;"),
                     p("+ Hình thức trực tiếp: một hội nghị;"), p("a) Về tổ chức: còn chậm."),
                     p("b) Về hoạt động: tốt.")]
    found, missing = by_key(blocks)
    assert missing == []
    assert found["I.3"].heading == "3. Kết quả triển khai thực hiện"
    assert found["I.3"].text.splitlines()[-1] == "b) Về hoạt động: tốt."


def test_unbold_headings_are_told_by_number_and_capitals():
    blocks = [Block(b.text) for b in standard()]  # nothing bold, no styles
    found, missing = by_key(_with_extra(blocks, p("IV. PHƯƠNG HƯỚNG, NHIỆM VỤ THỜI GIAN TỚI"), p("Tiếp tục.")))
    assert missing == [] and found["III"].text == "Nội dung của mục III."
    extra = [s for s in found.values() if s.extra]
    assert [(s.heading, s.text) for s in extra] == [("IV. PHƯƠNG HƯỚNG, NHIỆM VỤ THỜI GIAN TỚI", "Tiếp tục.")]


def test_wrapped_headings_second_line_is_heading_not_text():
    blocks = standard()
    i = next(j for j, b in enumerate(blocks) if b.text.startswith("I. "))
    blocks[i:i + 1] = [h("I. TÌNH HÌNH VÀ KẾT QUẢ"), h("TRIỂN KHAI THỰC HIỆN")]
    i = next(j for j, b in enumerate(blocks) if b.text.startswith("2. Việc lãnh đạo"))
    blocks[i:i + 1] = [h("2. Việc lãnh đạo, quán triệt, cụ thể hóa Nghị quyết số 03-NQ/ĐUK,"),
                       h("ngày 17/6/2021 của Đảng ủy Khối các cơ quan tỉnh")]
    found, missing = by_key(blocks)
    assert missing == [] and found["I"].text == ""
    assert found["I"].heading == "I. TÌNH HÌNH VÀ KẾT QUẢ TRIỂN KHAI THỰC HIỆN"
    assert found["I.2"].text == "Nội dung của mục I.2." and found["I.2"].heading.endswith("cơ quan tỉnh")


def test_complete_heading_does_not_swallow_a_short_bold_line_after_it():
    blocks = standard()
    i = next(j for j, b in enumerate(blocks) if b.text == "1. Ưu điểm") + 1
    blocks.insert(i, h("Về tổ chức"))
    found, _ = by_key(blocks)
    assert found["II.1"].heading == "1. Ưu điểm"
    assert found["II.1"].text.startswith("Về tổ chức")


def test_unnumbered_capital_headings_and_their_extra_section():
    blocks = [h(b.text.split(" ", 1)[1]) if b.bold and b.text.split(" ", 1)[0] in ("I.", "II.", "III.") else b
              for b in standard()]
    blocks = _with_extra(blocks, h("PHƯƠNG HƯỚNG, NHIỆM VỤ THỜI GIAN TỚI"), p("Tiếp tục."))
    found, missing = by_key(blocks)
    assert missing == [] and found["III"].text == "Nội dung của mục III."
    assert [s.text for s in found.values() if s.extra] == ["Tiếp tục."]


def test_closing_written_as_paragraphs_is_cut_whatever_its_order():
    blocks = standard()
    end = next(i for i, b in enumerate(blocks) if b.text.startswith("Trên đây"))
    blocks[end:] = [p("Trên đây là kết quả 01 năm thực hiện Nghị quyết. Kính đề nghị quan tâm, giúp đỡ./."),
                    h("K/T BÍ THƯ"), h("PHÓ BÍ THƯ"), p("Nguyễn Văn A"), h("Nơi nhận:"), p("- Như trên,"),
                    p("- Lưu VP.")]
    found, _ = by_key(blocks)
    assert found["III"].text == "Nội dung của mục III."
    assert not any(s.extra for s in found.values())
    meta = extract_metadata(blocks)
    assert (meta.signer, meta.signer_title) == ("Nguyễn Văn A", "K/T BÍ THƯ PHÓ BÍ THƯ")


def test_plain_list_item_worded_like_a_missing_heading_is_not_taken_for_it():
    blocks = standard(skip={"II.3"})
    at = next(i for i, b in enumerate(blocks) if b.text == "Nội dung của mục II.2.") + 1
    blocks[at:at] = [p("1. Hạn chế trong việc lấy ý kiến;"), p("2. Nguyên nhân của hạn chế là do công việc nhiều.")]
    found, missing = by_key(blocks)
    assert "II.3" not in found and missing == ["II.3"]
    assert found["II.2"].text.endswith("Nguyên nhân của hạn chế là do công việc nhiều.")


# ---- real reports' quirks (issue 13)


def test_abbreviations_are_written_out_on_folded_words():
    assert expand(tokens("4. UBND các địa phương:")) == tokens("4. Ủy ban nhân dân các địa phương")
    assert expand(tokens("Phát triển KT-XH, bồi dưỡng CB, ĐV")) == tokens("Phát triển kinh tế - xã hội, bồi dưỡng "
                                                                       "cán bộ, đảng viên")
    assert expand(tokens("Hoạt động của BCĐ CCHC")) == tokens("Hoạt động của Ban Chỉ đạo cải cách hành chính")
    # a folded abbreviation that is also a syllable ("ĐU" / "dự") is never expanded
    assert expand(tokens("ĐU dự thảo")) == ["du", "du", "thao"]


_STATE_OUTLINE = [OutlineNode("I", "KẾT QUẢ THỰC HIỆN CÁC NHIỆM VỤ CẢI CÁCH HÀNH CHÍNH", 0),
                  OutlineNode("I.1", "Các sở, ban, ngành cấp tỉnh", 1, "I"),
                  OutlineNode("I.2", "Cải cách thể chế", 1, "I"),
                  OutlineNode("I.3", "Cải cách thủ tục hành chính", 1, "I"),
                  OutlineNode("I.4", "Ủy ban nhân dân các xã, phường, đặc khu", 1, "I"),
                  OutlineNode("I.5", "Đào tạo, bồi dưỡng cán bộ, đảng viên", 1, "I"),
                  OutlineNode("II", "ĐỀ XUẤT, KIẾN NGHỊ", 0)]


def test_heading_in_abbreviations_and_plain_among_bold_siblings_is_found():
    """ "4. UBND các địa phương:" for "Ủy ban nhân dân các xã, phường, đặc khu", in plain type where
    every other heading is bold: its number and wording fit, so the second pass keeps it."""
    blocks = [h("I. KẾT QUẢ THỰC HIỆN CÁC NHIỆM VỤ CCHC"), h("1. Các sở, ban, ngành cấp tỉnh"),
              p("Các sở rà soát, cắt giảm thời gian giải quyết thủ tục hành chính."),
              h("2. Cải cách thể chế"), p("Ban hành 27 quyết định quy phạm pháp luật."),
              h("3. Cải cách TTHC"), p("Công bố 312 thủ tục hành chính."),
              p("4. UBND các địa phương:"), p("Các xã, phường đưa bộ phận một cửa vào hoạt động."),
              h("5. Đào tạo, bồi dưỡng CB, ĐV"), p("Tổ chức 14 lớp bồi dưỡng."),
              h("II. ĐỀ XUẤT, KIẾN NGHỊ"), p("Đề nghị Bộ Nội vụ sớm ban hành hướng dẫn.")]
    found, missing = sections(blocks, _STATE_OUTLINE)
    texts = {s.key: s.text for s in found}
    assert missing == [] and texts["I.4"] == "Các xã, phường đưa bộ phận một cửa vào hoạt động."
    assert texts["I.3"] == "Công bố 312 thủ tục hành chính." and texts["I.5"] == "Tổ chức 14 lớp bồi dưỡng."


def test_headings_styled_unlike_their_siblings_are_kept():
    """Reworded headings, one plain and one italic with only its number bold, in a bold-headed report."""
    blocks = standard()
    for i, b in enumerate(blocks):
        if b.text == "3. Kết quả triển khai thực hiện":
            blocks[i] = Block("3. Kết quả đạt được", italic=True)
        elif b.text == "2. Hạn chế, bất cập":
            blocks[i] = p("2. Những hạn chế")
    found, missing = by_key(blocks)
    assert missing == []
    assert found["I.3"].text == "Nội dung của mục I.3." and found["II.2"].text == "Nội dung của mục II.2."
    assert found["I.2"].text == "Nội dung của mục I.2." and found["II.1"].text == "Nội dung của mục II.1."


def test_deeper_numbers_are_text_of_their_section():
    """ "2.1." under "2." and "a)" under "1." are sub-headings, even worded like the next heading and in
    bold like it: the next heading is the unit's own, reworded "3." and "2."."""
    blocks = standard({"I.3": "Tình hình tổ chức và kết quả đạt được", "II.2": "Những tồn tại, hạn chế"})
    at = next(i for i, b in enumerate(blocks) if b.text == "Nội dung của mục I.2.") + 1
    blocks[at:at] = [h("2.1. Kết quả triển khai thực hiện việc cụ thể hóa Nghị quyết"), p("Ban hành 01 kế hoạch."),
                     h("2.1.1. Kết quả triển khai thực hiện ở các chi bộ"), p("Các chi bộ đều có kế hoạch.")]
    at = next(i for i, b in enumerate(blocks) if b.text == "Nội dung của mục II.1.") + 1
    blocks[at:at] = [h("a) Hạn chế, bất cập đã được khắc phục"), p("Việc công khai chậm đã được khắc phục.")]
    found, missing = by_key(blocks)
    assert missing == []
    assert found["I.3"].heading == "3. Tình hình tổ chức và kết quả đạt được"
    assert found["I.2"].text.splitlines()[1:] == ["2.1. Kết quả triển khai thực hiện việc cụ thể hóa Nghị quyết",
                                                  "Ban hành 01 kế hoạch.",
                                                  "2.1.1. Kết quả triển khai thực hiện ở các chi bộ",
                                                  "Các chi bộ đều có kế hoạch."]
    assert found["II.2"].heading == "2. Những tồn tại, hạn chế"
    assert found["II.1"].text.endswith("Việc công khai chậm đã được khắc phục.")


def test_a_document_numbering_its_second_level_1_1_is_read_by_its_own_depth():
    """ "1. TÌNH HÌNH" over "1.1. Đặc điểm tình hình": "1.1." is that document's second level."""
    numbering = {"I": "1.", "I.1": "1.1.", "I.2": "1.2.", "I.3": "1.3.", "II": "2.", "II.1": "2.1.", "II.2": "2.2.",
                 "II.3": "2.3.", "III": "3."}
    blocks = [h("BÁO CÁO"), p("Thực hiện Công văn số 125-CV/ĐUK ...")]
    for node in OUTLINE:
        blocks += [h(f"{numbering[node.key]} {node.title}"), p(f"Nội dung của mục {node.key}.")]
    blocks.append(p("Trên đây là báo cáo của Đảng ủy."))
    found, missing = by_key(blocks)
    assert missing == [] and found["II.3"].text == "Nội dung của mục II.3."


def test_closing_found_by_its_form():
    def last_text(closing):
        blocks = standard()
        end = next(i for i, b in enumerate(blocks) if b.text.startswith("Trên đây"))
        blocks[end:] = closing
        return by_key(blocks)[0]["III"].text

    content = "Nội dung của mục III."
    # the issuer reports to the recipient, then the signature
    assert last_text([p("UBND tỉnh Thanh Hóa báo cáo Bộ Nội vụ tổng hợp, theo dõi./."), h("TM. ỦY BAN NHÂN DÂN"),
                      h("KT. CHỦ TỊCH"), p("Lê Đức Giang")]) == content
    assert last_text([p("Chi bộ Sở Ngoại vụ trân trọng báo cáo./."), p("Nơi nhận:")]) == content
    # a director signing in his own name, right after the text
    assert last_text([Block("GIÁM ĐỐC", bold=True, caps=True), p("Nguyễn Văn Hùng"), p("Nơi nhận:")]) == content
    # "./." ends the text: what follows is not section text, whatever it is
    ends = "Đề nghị Đảng ủy Khối hướng dẫn chế độ báo cáo định kỳ./."
    assert last_text([p(ends), p("NGƯỜI LẬP BÁO CÁO"), p("Phạm Thu Trang")]) == f"{content}\n{ends}"
    # reporting as a subject of the text is not a closing
    told = "Định kỳ hằng quý, chi bộ báo cáo Ban Thường vụ Đảng ủy Khối kết quả thực hiện."
    assert last_text([p(told), p("Nơi nhận:")]) == f"{content}\n{told}"
    asked = "Đề nghị Sở Nội vụ tổng hợp để báo cáo Bộ Nội vụ./."
    assert last_text([p(asked), p("T/M ĐẢNG ỦY")]) == f"{content}\n{asked}"
