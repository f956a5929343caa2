"""Importing a roster into a node's database: one transaction, upserts by e-mail key, never a duplicate."""

from __future__ import annotations

import csv
import io

import pytest
from sqlmodel import Session, col, select

from nodes.roster.apply import import_roster
from nodes.roster.export import export_roster, neutralise, write_roster
from nodes.storage.models import Affiliation, AuditEvent, Member
from tests.nodes.credential_support import context

HEADER = "email,given_name,family_name,programme,degree,class_year,groups\n"
ADA = "ada@ecole.example,Ada,Lovelace,Informatique,Master,2015,Club robotique"
LEA = "lea@ecole.example,Léa,Dubois,Génie civil,Licence,2012,"


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return (header + "".join(r + "\n" for r in rows)).encode()


def members(node) -> list[Member]:
    with Session(node.engine) as db:
        return list(db.exec(select(Member).order_by(col(Member.id))))


def affiliations(node) -> list[Affiliation]:
    with Session(node.engine) as db:
        return list(db.exec(select(Affiliation).order_by(col(Affiliation.id))))


def actions(node) -> list[str]:
    with Session(node.engine) as db:
        return [e.action for e in db.exec(select(AuditEvent).order_by(col(AuditEvent.id)))]


def test_import_creates_members_and_affiliations_and_audits_it(make_node):
    node = make_node()
    report = import_roster(context(node), csv_bytes(ADA, LEA), actor="cli", source="roster.csv")
    assert report.imported and (report.created, report.updated, report.unchanged) == (2, 0, 0)
    assert [(m.email_key, m.given_name, m.is_admin, m.claimed_at) for m in members(node)] == [
        ("ada@ecole.example", "Ada", False, None), ("lea@ecole.example", "Léa", False, None)]
    assert sorted(report.new_member_ids) == sorted(m.id for m in members(node))
    (first, second) = affiliations(node)
    assert (first.programme, first.degree, first.class_year, first.groups) == (
        "Informatique", "Master", 2015, ["Club robotique"])
    assert second.groups == []
    with Session(node.engine) as db:
        event = db.exec(select(AuditEvent).where(AuditEvent.action == "roster.import")).one()
    assert (event.actor, event.target, event.detail["rows"], event.detail["created"]) == ("cli", "roster.csv", 2, 2)


def test_reimporting_the_same_file_changes_nothing_and_duplicates_nothing(make_node):
    node = make_node()
    import_roster(context(node), csv_bytes(ADA, LEA), actor="cli")
    before = [(m.id, m.public_id, m.updated_at) for m in members(node)]
    report = import_roster(context(node), csv_bytes(ADA, LEA), actor="cli")
    assert (report.created, report.updated, report.unchanged, report.new_member_ids) == (0, 0, 2, [])
    assert [(m.id, m.public_id, m.updated_at) for m in members(node)] == before
    assert len(affiliations(node)) == 2


def test_reimport_updates_corrected_rows_in_place(make_node):
    node = make_node()
    import_roster(context(node), csv_bytes(ADA, LEA), actor="cli")
    ids = [m.id for m in members(node)]
    corrected = csv_bytes("ADA@Ecole.example,Ada,King-Lovelace,informatique,MASTER,2015,Club robotique;BDE", LEA)
    report = import_roster(context(node), corrected, actor="cli")
    assert (report.created, report.updated, report.unchanged, report.members_updated) == (0, 1, 1, 1)
    ada = members(node)[0]
    assert [m.id for m in members(node)] == ids
    assert (ada.family_name, ada.email) == ("King-Lovelace", "ADA@Ecole.example")
    first = affiliations(node)[0]
    assert (first.programme, first.degree, first.groups) == ("informatique", "MASTER", ["Club robotique", "BDE"])
    assert len(affiliations(node)) == 2


def test_members_missing_from_a_later_roster_are_kept(make_node):
    node = make_node()
    import_roster(context(node), csv_bytes(ADA, LEA), actor="cli")
    import_roster(context(node), csv_bytes(LEA), actor="cli")
    assert len(members(node)) == 2 and len(affiliations(node)) == 2


def test_two_affiliations_of_one_member_are_stored_under_one_member(make_node):
    node = make_node()
    report = import_roster(context(node), csv_bytes(ADA, "ada@ecole.example,Ada,Lovelace,Management,MBA,2021,"),
                           actor="cli")
    assert (report.members_created, report.created) == (1, 2)
    (ada,) = members(node)
    assert {(a.member_id, a.degree) for a in affiliations(node)} == {(ada.id, "Master"), (ada.id, "MBA")}


def test_two_periods_at_a_company_are_two_affiliations_and_reimport_keeps_them(make_node):
    node = make_node(kind="company")
    data = csv_bytes("cam@acme.example,Camille,Martin,Engineer,R&D,2015-09-01,2018-06-30",
                     "cam@acme.example,Camille,Martin,Engineer,R&D,2021-01-04,",
                     header="email,given_name,family_name,role,department,start_date,end_date\n")
    import_roster(context(node), data, actor="cli")
    report = import_roster(context(node), data, actor="cli")
    assert report.unchanged == 2
    rows = affiliations(node)
    assert [(a.kind, str(a.start_date), a.end_date and str(a.end_date)) for a in rows] == [
        ("company", "2015-09-01", "2018-06-30"), ("company", "2021-01-04", None)]


def test_an_invalid_row_stores_nothing_but_the_refusal_audit_event(make_node):
    node = make_node()
    report = import_roster(context(node), csv_bytes(ADA, "lea@ecole.example,Léa,Dubois,Génie civil,Licence,12,"),
                           actor="cli")
    assert not report.imported
    assert [str(e) for e in report.errors] == ["line 3: class_year \u201c12\u201d is not a year from 1900 to "
                                               f"{context(node).clock().year + 10}"]
    assert members(node) == [] and affiliations(node) == []
    assert actions(node) == ["roster.import.refused"]


def test_skip_invalid_imports_the_valid_rows_and_reports_the_skipped_ones(make_node):
    node = make_node()
    data = csv_bytes(ADA, "bad-email,Léa,Dubois,Génie civil,Licence,2012,", LEA, ADA)
    report = import_roster(context(node), data, actor="cli", skip_invalid=True)
    assert report.imported and (report.rows, report.created, report.skipped) == (4, 2, 2)
    assert [e.line for e in report.errors] == [3, 5]
    assert [m.email_key for m in members(node)] == ["ada@ecole.example", "lea@ecole.example"]
    assert actions(node) == ["roster.import"]


def test_a_file_refused_as_a_whole_is_refused_even_when_skipping_invalid_rows(make_node):
    node = make_node()
    report = import_roster(context(node), (HEADER + LEA + "\n").encode("latin-1"), actor="cli", skip_invalid=True)
    assert not report.imported and report.errors[0].code == "encoding"
    assert members(node) == []


def test_b1_sql_meta_characters_are_stored_verbatim(make_node):
    node = make_node()
    nasty = "Robert'); DROP TABLE member;--"
    data = csv_bytes(f"bobby@ecole.example,\"{nasty}\",O'Brien,\"Info\"\" OR 1=1 --\",Master,2015,%;_;\\")
    assert import_roster(context(node), data, actor="cli").imported
    (bobby,) = members(node)
    assert (bobby.given_name, bobby.family_name) == (nasty, "O'Brien")
    (row,) = affiliations(node)
    assert (row.programme, row.groups) == ('Info" OR 1=1 --', ["%", "_", "\\"])


def test_b1_nul_byte_anywhere_refuses_the_file_and_stores_nothing(make_node):
    node = make_node()
    report = import_roster(context(node), csv_bytes(ADA, "lea@ecole.example,Léa,Dub\x00ois,Info,Licence,2012,"),
                           actor="cli")
    assert not report.imported and [str(e) for e in report.errors] == ["line 3: family_name contains a NUL byte"]
    assert members(node) == []


def test_b2_case_and_compatibility_variants_of_an_email_are_one_member(make_node):
    node = make_node()
    import_roster(context(node), csv_bytes(ADA), actor="cli")
    report = import_roster(context(node), csv_bytes("ＡＤＡ@ecole.example,Ada,Lovelace,Informatique,Master,2015,"
                                                   "Club robotique"), actor="cli")
    assert report.members_created == 0 and len(members(node)) == 1


FORMULAS = ["=HYPERLINK(\"http://evil.example\",\"x\")", "+1+2", "-3+4", "@SUM(A1)", "\tTab", "\r=1"]


def test_formula_cells_are_stored_verbatim_and_neutralised_on_export(make_node):
    node = make_node()
    source = io.StringIO()
    writer = csv.writer(source)
    writer.writerow(HEADER.strip().split(","))
    writer.writerows([f"f{i}@ecole.example", "Eve", "Formula", cell, "Master", "2015", cell]
                     for i, cell in enumerate(FORMULAS))
    report = import_roster(context(node), source.getvalue().encode(), actor="cli")
    assert report.imported, report.errors
    assert [a.programme for a in affiliations(node)] == FORMULAS
    assert [a.groups for a in affiliations(node)] == [[f] for f in FORMULAS]
    out = io.StringIO()
    assert write_roster(context(node), out) == len(FORMULAS)
    exported = list(csv.reader(io.StringIO(out.getvalue())))
    assert exported[0] == ["email", "given_name", "family_name", "programme", "degree", "class_year", "groups"]
    assert [r[3] for r in exported[1:]] == ["'" + f for f in FORMULAS]
    assert [r[6] for r in exported[1:]] == ["'" + f for f in FORMULAS]
    assert exported[1][0] == "f0@ecole.example"


def test_neutralise_leaves_ordinary_cells_alone():
    assert [neutralise(c) for c in ["Ada", "2015", "", "a=b", "Jean-Luc", " =x"]] == [
        "Ada", "2015", "", "a=b", "Jean-Luc", " =x"]
    assert [neutralise(c) for c in ["=1", "+1", "-1", "@a", "\t1", "\r1"]] == [
        "'=1", "'+1", "'-1", "'@a", "'\t1", "'\r1"]


def test_exported_roster_reimports_as_unchanged(make_node, tmp_path):
    node = make_node(kind="company")
    data = csv_bytes("cam@acme.example,Camille,Martin,Engineer,R&D,2015-09-01,2018-06-30",
                     "noah@acme.example,Noah,Smith,Sales Lead,Sales,2010-02-01,",
                     header="email,given_name,family_name,role,department,start_date,end_date\n")
    import_roster(context(node), data, actor="cli")
    path = tmp_path / "export.csv"
    assert export_roster(context(node), path) == 2
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    report = import_roster(context(node), path.read_bytes(), actor="cli")
    assert (report.unchanged, report.created, report.updated) == (2, 0, 0)
    assert "roster.export" in actions(node)


def test_progress_is_reported_for_each_phase(make_node):
    node = make_node()
    seen: dict[str, tuple[int, int]] = {}
    import_roster(context(node), csv_bytes(ADA, LEA), actor="cli",
                  progress=lambda phase, done, total: seen.__setitem__(phase, (done, total)))
    assert seen["members"] == (2, 2) and seen["affiliations"] == (2, 2)
    assert seen["check"][0] == seen["check"][1]


@pytest.mark.slow
def test_ten_thousand_rows_import_and_reimport_without_duplicates(make_node):
    node = make_node()
    rows = [f"p{i}@ecole.example,P{i},Q{i},Info,Master,{1950 + i % 70}," for i in range(10_000)]
    first = import_roster(context(node), csv_bytes(*rows), actor="cli")
    again = import_roster(context(node), csv_bytes(*rows), actor="cli")
    assert (first.created, again.unchanged, again.created) == (10_000, 10_000, 0)
    with Session(node.engine) as db:
        assert len(list(db.exec(select(Member.id)))) == 10_000
