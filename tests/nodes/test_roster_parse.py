"""Reading and checking a roster CSV: every problem is refused with its line number, before anything is stored."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from nodes.roster.fields import source_key
from nodes.roster.parse import parse_roster, read_capped, read_roster_file
from nodes.roster.problems import RosterFileError

SCHOOL_HEADER = "email,given_name,family_name,programme,degree,class_year,groups\n"
COMPANY_HEADER = "email,given_name,family_name,role,department,start_date,end_date\n"
YEAR = 2026


def school(*rows: str, header: str = SCHOOL_HEADER) -> bytes:
    return (header + "".join(r + "\n" for r in rows)).encode()


def company(*rows: str) -> bytes:
    return (COMPANY_HEADER + "".join(r + "\n" for r in rows)).encode()


def messages(parsed) -> list[str]:
    return [str(e) for e in parsed.errors]


def refused(data: bytes, kind: str = "school") -> str:
    with pytest.raises(RosterFileError) as caught:
        parse_roster(data, kind, YEAR)
    return str(caught.value)


def test_valid_school_roster_is_read_with_groups_split_on_semicolons():
    parsed = parse_roster(school("ada@ecole.example,Ada,Lovelace,Informatique,Master,2015,Club robotique; BDE;"),
                          "school", YEAR)
    assert parsed.errors == []
    (row,) = parsed.rows
    assert (row.email_key, row.given_name, row.programme, row.class_year) == (
        "ada@ecole.example", "Ada", "Informatique", 2015)
    assert row.groups == ("Club robotique", "BDE")
    assert row.line == 2


def test_missing_column_is_refused_naming_the_column():
    data = b"email,given_name,family_name,programme,degree\nada@ecole.example,Ada,Lovelace,Info,Master\n"
    message = refused(data)
    assert message.startswith("line 1: missing column: class_year")


def test_company_roster_names_every_missing_column():
    message = refused(b"email,given_name,family_name,role\n", "company")
    assert "missing column: department, start_date" in message


def test_header_names_are_case_insensitive_and_spaces_become_underscores():
    data = school("ada@ecole.example,Ada,Lovelace,Info,Master,2015,",
                  header="Email,Given Name,FAMILY_NAME,Programme,Degree,Class-Year,Groups\n")
    assert parse_roster(data, "school", YEAR).errors == []


def test_a_column_named_twice_is_refused():
    assert "twice: email" in refused(b"email,email,given_name,family_name,programme,degree,class_year\n")


def test_unknown_columns_are_ignored_and_reported():
    data = school("ada@ecole.example,Ada,Lovelace,Info,Master,2015,,x",
                  header=SCHOOL_HEADER.strip() + ",student_number\n")
    assert parse_roster(data, "school", YEAR).ignored_columns == ["student_number"]


def test_semicolon_separated_file_from_french_excel_is_read():
    data = "email;given_name;family_name;programme;degree;class_year;groups\n" \
           "lea@ecole.example;Léa;Dubois;Génie civil;Master;2018;\"Club A;Club B\"\n"
    parsed = parse_roster(data.encode(), "school", YEAR)
    assert parsed.errors == [] and parsed.rows[0].groups == ("Club A", "Club B")


def test_duplicate_email_for_the_same_affiliation_is_refused_with_both_lines():
    parsed = parse_roster(school("ada@ecole.example,Ada,Lovelace,Info,Master,2015,",
                                 "ADA@ecole.example,Ada,Lovelace,Info,Master,2015,Club"), "school", YEAR)
    assert messages(parsed) == [
        "line 3: the same e-mail and the same affiliation as line 2, with different details"]
    assert len(parsed.rows) == 1


def test_exact_duplicate_row_is_refused():
    row = "ada@ecole.example,Ada,Lovelace,Info,Master,2015,"
    parsed = parse_roster(school(row, row), "school", YEAR)
    assert messages(parsed) == ["line 3: the same row as line 2"]


def test_two_degrees_of_one_person_are_two_valid_rows():
    parsed = parse_roster(school("ada@ecole.example,Ada,Lovelace,Info,Master,2015,",
                                 "ada@ecole.example,Ada,Lovelace,Management,MBA,2021,"), "school", YEAR)
    assert parsed.errors == []
    assert len({r.source_key for r in parsed.rows}) == 2


def test_two_periods_at_the_same_company_are_two_valid_rows():
    parsed = parse_roster(company("cam@acme.example,Camille,Martin,Engineer,R&D,2015-09-01,2018-06-30",
                                  "cam@acme.example,Camille,Martin,Engineer,R&D,2021-01-04,"), "company", YEAR)
    assert parsed.errors == []
    assert parsed.rows[1].end_date is None


def test_one_email_for_two_different_people_is_refused():
    parsed = parse_roster(school("ada@ecole.example,Ada,Lovelace,Info,Master,2015,",
                                 "ada@ecole.example,Grace,Hopper,Maths,Master,2016,"), "school", YEAR)
    assert messages(parsed) == ["line 3: this e-mail is already on line 2 for a person with another name"]


def test_source_key_ignores_case_and_spacing_of_the_key_fields():
    assert source_key("school", "Génie  Civil", "MASTER", 2018) == source_key("school", "génie civil", "master", 2018)
    assert source_key("school", "Génie civil", "Master", 2018) != source_key("school", "Génie civil", "Master", 2019)


@pytest.mark.parametrize(("start", "end", "expected"), [
    ("2015-13-01", "", 'line 2: start_date "2015-13-01" is not a date written YYYY-MM-DD'),
    ("01/09/2015", "", 'line 2: start_date "01/09/2015" is not a date written YYYY-MM-DD'),
    ("20150901", "", 'line 2: start_date "20150901" is not a date written YYYY-MM-DD'),
    ("2015-09-01", "2014-01-01", "line 2: end_date 2014-01-01 is before start_date 2015-09-01"),
])
def test_bad_dates_are_reported_with_their_line(start, end, expected):
    parsed = parse_roster(company(f"cam@acme.example,Camille,Martin,Engineer,R&D,{start},{end}"), "company", YEAR)
    assert [m.replace("\u201c", '"').replace("\u201d", '"') for m in messages(parsed)] == [expected]
    assert parsed.rows == []


@pytest.mark.parametrize("year", ["1899", "2037", "20x5", "15"])
def test_class_year_outside_the_range_is_refused(year):
    parsed = parse_roster(school(f"ada@ecole.example,Ada,Lovelace,Info,Master,{year},"), "school", YEAR)
    assert messages(parsed)[0].endswith("is not a year from 1900 to 2036")


def test_every_problem_of_a_row_is_reported_not_only_the_first():
    parsed = parse_roster(school("not-an-email,,Lovelace,Info,,1800,"), "school", YEAR)
    text = " | ".join(messages(parsed))
    assert "not a valid e-mail address" in text and "given_name is empty" in text
    assert "degree is empty" in text and "class_year" in text
    assert {e.line for e in parsed.errors} == {2}


def test_line_numbers_count_the_lines_of_multi_line_cells():
    parsed = parse_roster(school('ada@ecole.example,Ada,Lovelace,"Génie\nlogiciel",Master,2015,',
                                 "bad,Grace,Hopper,Maths,Master,2016,"), "school", YEAR)
    assert messages(parsed) == ['line 4: "bad" is not a valid e-mail address'.replace('"', "\u201c", 1)
                                .replace('"', "\u201d", 1)]
    assert parsed.rows[0].programme == "Génie\nlogiciel"


def test_row_with_too_few_cells_is_refused_and_trailing_empty_cells_are_tolerated():
    parsed = parse_roster(school("ada@ecole.example,Ada,Lovelace,Info,Master",
                                 "lea@ecole.example,Léa,Dubois,Info,Master,2012,,,"), "school", YEAR)
    assert messages(parsed) == ["line 2: 5 cells, but the header has 7 columns"]
    assert [r.email for r in parsed.rows] == ["lea@ecole.example"]


def test_overlong_and_control_character_names_are_refused():
    parsed = parse_roster(school(f"ada@ecole.example,{'A' * 201},Love\tlace,Info,Master,2015,"), "school", YEAR)
    assert messages(parsed) == ["line 2: given_name is longer than 200 characters",
                                "line 2: family_name contains a control character (tab, line break…)"]


def test_b1_nul_byte_in_a_cell_is_refused_with_its_line_and_column():
    parsed = parse_roster(school("ada@ecole.example,Ada,Love\x00lace,Info,Master,2015,"), "school", YEAR)
    assert messages(parsed) == ["line 2: family_name contains a NUL byte"]
    assert parsed.rows == []


def test_b1_sql_meta_characters_are_kept_verbatim():
    parsed = parse_roster(school("o.brien@ecole.example,Seán,O'Brien; DROP TABLE member;--,"
                                 "\"Info\"\"; --\",Master,2015,%_\\"), "school", YEAR)
    assert parsed.errors == []
    row = parsed.rows[0]
    assert (row.family_name, row.programme, row.groups) == ("O'Brien; DROP TABLE member;--", 'Info"; --', ("%_\\",))


def test_latin1_file_is_refused_naming_the_line_and_byte():
    data = (SCHOOL_HEADER + "lea@ecole.example,Léa,Dubois,Info,Master,2012,\n").encode("latin-1")
    message = refused(data)
    offset = data.index("é".encode("latin-1")) + 1
    assert message.startswith(f"line 2: the file is not UTF-8 text: byte {offset} (column 20 of this line, "
                              "value 0xE9)")


def test_utf8_with_byte_order_mark_is_accepted():
    data = b"\xef\xbb\xbf" + school("lea@ecole.example,Léa,Dubois,Info,Master,2012,")
    assert parse_roster(data, "school", YEAR).rows[0].email == "lea@ecole.example"


def test_empty_file_and_header_only_file_are_refused():
    assert refused(b"") == "the file is empty"
    assert refused(SCHOOL_HEADER.encode()) == "the file has a header line but no rows"


def test_broken_quoting_is_refused_with_its_line():
    message = refused(school("ada@ecole.example,Ada,\"Love\"lace,Info,Master,2015,"))
    assert message.startswith("line 2: this is not a readable CSV file")


class CountingStream(io.RawIOBase):
    """An endless stream that counts how many bytes were asked of it."""

    def __init__(self) -> None:
        self.served = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        buffer[:] = b"a" * len(buffer)
        self.served += len(buffer)
        return len(buffer)


def test_a_50_mb_upload_is_refused_after_reading_just_past_the_cap():
    stream = io.BufferedReader(CountingStream(), buffer_size=64 * 1024)
    with pytest.raises(RosterFileError) as caught:
        read_capped(stream, 32 * 1024 * 1024)
    assert str(caught.value) == "the file is larger than 32 MB, the largest roster this node accepts"
    assert stream.raw.served <= 32 * 1024 * 1024 + 128 * 1024


def test_a_50_mb_file_is_refused_from_its_size_without_reading_it(tmp_path: Path):
    big = tmp_path / "big.csv"
    with big.open("wb") as handle:
        handle.truncate(50 * 1024 * 1024)  # sparse: 50 MB on paper, nothing to read
    with pytest.raises(RosterFileError) as caught:
        read_roster_file(big, 32 * 1024 * 1024)
    assert "larger than 32 MB" in str(caught.value)


def test_problems_read_in_french():
    parsed = parse_roster(company("cam@acme.example,Camille,Martin,Engineer,R&D,2015-09-01,2014-01-01"),
                          "company", YEAR)
    assert parsed.errors[0].message("fr") == "ligne 2 : end_date 2014-01-01 est antérieure à start_date 2015-09-01"
