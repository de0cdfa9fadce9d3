"""Define-XML 2.1 for one study's ts.xpt and ti.xpt: each dataset, its variables (lengths, origins), the
TSPARMCD/TSPARM and IECAT codelists and, through value-level metadata, the codelist each coded TS parameter's
TSVAL comes from and the whole text of each criterion whose IETEST had to be cut (SDTMIG 3.4, TI assumption 5:
the full text goes in the study metadata).

Most of the document is the same for every study, so it is assembled from text fragments (cached by what
they depend on) rather than built as a tree: only the study's identifier, title, lengths, the sets of
parameters and coded values it uses and its cut criteria vary. Every value put in is escaped for XML.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from trialport.cdisc.dataset import Dataset
from trialport.cdisc.terminology import CODELISTS, CT_VERSION, parameters, terms

ODM = "http://www.cdisc.org/ns/odm/v1.3"
DEF = "http://www.cdisc.org/ns/def/v2.1"
XLINK = "http://www.w3.org/1999/xlink"

ORIGINS = {  # variable → (Define-XML origin type, source); every other variable: Protocol
    "DOMAIN": ("Assigned", "Sponsor"),
    "TSSEQ": ("Assigned", "Sponsor"),
    "TSPARMCD": ("Assigned", "Sponsor"),
    "TSPARM": ("Assigned", "Sponsor"),
    "IETESTCD": ("Assigned", "Sponsor"),
}
KEYS = {"TS": ("STUDYID", "TSPARMCD", "TSSEQ"), "TI": ("STUDYID", "IETESTCD")}
MANDATORY = {"TS": KEYS["TS"], "TI": ("STUDYID", "DOMAIN", "IETESTCD", "IETEST", "IECAT")}  # TI: SDTMIG's Req
DATASETS = {  # domain → (label, def:Structure)
    "TS": ("Trial Summary", "One record per trial summary parameter value"),
    "TI": ("Trial Inclusion/Exclusion Criteria", "One record per I/E criterion"),
}
CODELIST_OF = {"TSPARMCD": "TSPARMCD", "TSPARM": "TSPARM", "IECAT": "IECAT"}  # variables with a codelist
VALUE_LISTS = {"TS": "TSVAL", "TI": "IETEST"}  # the variable each domain's value-level metadata describes
CODED = {  # TSPARMCD whose TSVAL comes from a CDISC codelist → that codelist
    "TPHASE": "TPHASE",
    "INTTYPE": "INTTYPE",
    "STYPE": "STYPE",
    "INTMODEL": "INTMODEL",
    "TBLIND": "TBLIND",
    "SEXPOP": "SEXPOP",
    "RANDOM": "NY",
    "HLTSUBJI": "NY",
}
# characters XML 1.0 cannot hold at all (C0 controls other than tab, newline, carriage return; U+FFFE/U+FFFF;
# lone surrogates): replaced by U+FFFD so the document stays well-formed
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_TEXT = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", "\r": "&#13;"})
_ATTRIBUTE = str.maketrans(
    {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "\r": "&#13;", "\n": "&#10;", "\t": "&#09;"}
)


def text(value: str) -> str:
    """``value`` as XML character data (a carriage return kept as a reference, since parsers drop a raw one)."""
    return _NOT_XML.sub("\ufffd", value).translate(_TEXT)


def attribute(value: str) -> str:
    """``value`` as a double-quoted XML attribute value (whitespace kept as character references)."""
    return _NOT_XML.sub("\ufffd", value).translate(_ATTRIBUTE)


def _description(indent: str, value: str) -> str:
    return (
        f'{indent}<Description>\n{indent}  <TranslatedText xml:lang="en">{text(value)}</TranslatedText>\n'
        f"{indent}</Description>\n"
    )


def _element(indent: str, tag: str, value: str | None) -> str:
    return f"{indent}<{tag}>{text(value)}</{tag}>\n" if value else f"{indent}<{tag} />\n"


_STANDARDS = f"""\
      <def:Standards>
        <def:Standard OID="STD.SDTMIG" Name="SDTMIG" Type="IG" Version="3.4" Status="Final" />
        <def:Standard OID="STD.CT" Name="CDISC/NCI" Type="CT" PublishingSet="SDTM" Version="{CT_VERSION}" \
Status="Final" />
      </def:Standards>
""".encode()
_END = b"    </MetaDataVersion>\n  </Study>\n</ODM>\n"


@cache
def _value_list(coded: tuple[str, ...]) -> bytes:
    """The value list of TSVAL: one entry per coded parameter."""
    parts = ['      <def:ValueListDef OID="VL.TS.TSVAL">\n']
    for number, code in enumerate(coded, 1):
        parts.append(
            f'        <ItemRef ItemOID="IT.TS.TSVAL.{code}" OrderNumber="{number}" Mandatory="Yes">\n'
            f'          <def:WhereClauseRef WhereClauseOID="WC.TS.TSPARMCD.{code}" />\n'
            "        </ItemRef>\n"
        )
    parts.append("      </def:ValueListDef>\n")
    return "".join(parts).encode()


def _ti_value_list(codes: Sequence[str]) -> bytes:
    """The value list of IETEST: one entry per criterion whose text was cut."""
    parts = ['      <def:ValueListDef OID="VL.TI.IETEST">\n']
    for number, code in enumerate(map(attribute, codes), 1):
        parts.append(
            f'        <ItemRef ItemOID="IT.TI.IETEST.{code}" OrderNumber="{number}" Mandatory="Yes">\n'
            f'          <def:WhereClauseRef WhereClauseOID="WC.TI.IETESTCD.{code}" />\n'
            "        </ItemRef>\n"
        )
    parts.append("      </def:ValueListDef>\n")
    return "".join(parts).encode()


@cache
def _where_clause(domain: str, variable: str, value: str) -> bytes:
    oid = attribute(value)
    return (
        f'      <def:WhereClauseDef OID="WC.{domain}.{variable}.{oid}">\n'
        f'        <RangeCheck Comparator="EQ" SoftHard="Soft" def:ItemOID="IT.{domain}.{variable}">\n'
        f"          <CheckValue>{text(value)}</CheckValue>\n"
        "        </RangeCheck>\n"
        "      </def:WhereClauseDef>\n"
    ).encode()


@cache
def _item_group(domain: str, columns: tuple[str, ...]) -> bytes:
    label, structure = DATASETS[domain]
    keys, mandatory = KEYS[domain], MANDATORY[domain]
    file = f"{domain.lower()}.xpt"
    parts = [
        f'      <ItemGroupDef OID="IG.{domain}" Name="{domain}" SASDatasetName="{domain}" Repeating="No" '
        f'IsReferenceData="No" Purpose="Tabulation" def:Structure="{structure}" '
        f'def:StandardOID="STD.SDTMIG" def:ArchiveLocationID="LF.{domain}">\n',
        _description("        ", label),
    ]
    for number, name in enumerate(columns, 1):
        key = f' KeySequence="{keys.index(name) + 1}"' if name in keys else ""
        oid = attribute(name)
        parts.append(
            f'        <ItemRef ItemOID="IT.{domain}.{oid}" OrderNumber="{number}" '
            f'Mandatory="{"Yes" if name in mandatory else "No"}"{key} />\n'
        )
    parts.append(
        '        <def:Class Name="TRIAL DESIGN" />\n'
        f'        <def:leaf ID="LF.{domain}" xlink:href="{file}">\n'
        f"          <def:title>{file}</def:title>\n"
        "        </def:leaf>\n"
        "      </ItemGroupDef>\n"
    )
    return "".join(parts).encode()


@cache
def _item_def(domain: str, name: str, label: str, length: int, value_list: bool) -> bytes:
    oid = attribute(name)
    kind = "integer" if name == "TSSEQ" else "text"
    parts = [
        f'      <ItemDef OID="IT.{domain}.{oid}" Name="{oid}" SASFieldName="{oid}" DataType="{kind}" '
        f'Length="{length}">\n',
        _description("        ", label),
    ]
    if name in CODELIST_OF:
        parts.append(f'        <CodeListRef CodeListOID="CL.{CODELIST_OF[name]}" />\n')
    origin, source = ORIGINS.get(name, ("Protocol", None))
    parts.append(f'        <def:Origin Type="{origin}"' + (f' Source="{source}"' if source else "") + " />\n")
    if value_list:
        parts.append(f'        <def:ValueListRef ValueListOID="VL.{domain}.{VALUE_LISTS[domain]}" />\n')
    parts.append("      </ItemDef>\n")
    return "".join(parts).encode()


def _criterion_item_def(code: str, full_text: str, length: int) -> bytes:
    """IETEST where IETESTCD is ``code``: the criterion's whole text, which its ti.xpt row carries cut."""
    return (
        f'      <ItemDef OID="IT.TI.IETEST.{attribute(code)}" Name="IETEST" DataType="text" Length="{length}">\n'
        + _description("        ", full_text)
        + '        <def:Origin Type="Protocol" />\n'
        "      </ItemDef>\n"
    ).encode()


@cache
def _value_item_def(code: str, codelist: str, length: int) -> bytes:
    return (
        f'      <ItemDef OID="IT.TS.TSVAL.{code}" Name="TSVAL" DataType="text" Length="{length}">\n'
        + _description("        ", f"Parameter Value for {code}")
        + f'        <CodeListRef CodeListOID="CL.{codelist}" />\n'
        '        <def:Origin Type="Protocol" />\n'
        "      </ItemDef>\n"
    ).encode()


@cache
def _parameter_codelists(used: frozenset[str]) -> bytes:
    chosen = [t for t in parameters().values() if t.submission_value in used]
    codes = _codelist("TSPARMCD", tuple((t.submission_value, t.ccode) for t in chosen))
    return (codes + _codelist("TSPARM", tuple((t.term, t.ccode) for t in chosen))).encode()


@cache
def _value_codelist(name: str) -> bytes:
    return _codelist(name, tuple((t.submission_value, t.ccode) for t in terms() if t.codelist == name)).encode()


def _codelist(name: str, items: tuple[tuple[str, str], ...]) -> str:
    nci_code, title = CODELISTS[name]
    parts = [
        f'      <CodeList OID="CL.{attribute(name)}" Name="{attribute(title)}" DataType="text" '
        'def:StandardOID="STD.CT">\n'
    ]
    for value, ccode in items:
        parts.append(
            f'        <EnumeratedItem CodedValue="{attribute(value)}">\n'
            f'          <Alias Context="nci:ExtCodeID" Name="{attribute(ccode)}" />\n'
            "        </EnumeratedItem>\n"
        )
    parts.append(f'        <Alias Context="nci:ExtCodeID" Name="{attribute(nci_code)}" />\n      </CodeList>\n')
    return "".join(parts)


def _length(values: Sequence[Any]) -> int:
    if values and values[0].__class__ is str:
        return max(1, max(map(len, values)))
    return max(1, max(map(len, map(str, values)), default=1))


def define_xml(
    data: Dataset,
    study_id: str,
    title: str | None,
    created: datetime | None = None,
    ti: Dataset | None = None,
    whole: Mapping[str, str] | None = None,
) -> bytes:
    """The study's define.xml: TS (``data``) and, when the study has criteria, TI (``ti``); ``whole`` maps the
    IETESTCD of each criterion whose IETEST was cut to its whole text."""
    created = created or datetime.now(UTC)
    sid = attribute(study_id)
    used = {row["TSPARMCD"] for row in data.rows}
    coded = {code: codelist for code, codelist in CODED.items() if code in used}
    cut = {code: text for code, text in (whole or {}).items() if ti is not None}
    head = (
        "<?xml version='1.0' encoding='UTF-8'?>\n"
        f'<ODM xmlns="{ODM}" xmlns:def="{DEF}" xmlns:xlink="{XLINK}" FileType="Snapshot" FileOID="DEFINE.{sid}.TS" '
        f'ODMVersion="1.3.2" CreationDateTime="{created:%Y-%m-%dT%H:%M:%S}" Originator="trialport" '
        'SourceSystem="trialport" def:Context="Submission">\n'
        f'  <Study OID="STUDY.{sid}">\n'
        "    <GlobalVariables>\n"
        + _element("      ", "StudyName", study_id)
        + _element("      ", "StudyDescription", title)
        + _element("      ", "ProtocolName", study_id)
        + '    </GlobalVariables>\n    <MetaDataVersion OID="MDV.1" Name="Trial Design" def:DefineVersion="2.1.0">\n'
    )
    parts = [head.encode(), _STANDARDS]
    # Define-XML's order: every ValueListDef, every WhereClauseDef, every ItemGroupDef, ItemDef, CodeList
    if coded:
        parts.append(_value_list(tuple(coded)))
    if cut:
        parts.append(_ti_value_list(list(cut)))
    parts += [_where_clause("TS", "TSPARMCD", code) for code in coded]
    parts += [_where_clause("TI", "IETESTCD", code) for code in cut]
    parts.append(_item_group("TS", tuple(data.columns)))
    if ti is not None:
        parts.append(_item_group("TI", tuple(ti.columns)))
    by_column = dict(zip(data.columns, data.by_column, strict=True))
    for name, values in by_column.items():
        parts.append(_item_def("TS", name, data.labels[name], _length(values), name == "TSVAL" and bool(coded)))
    codes, values = by_column["TSPARMCD"], by_column["TSVAL"]
    for code, codelist in coded.items():
        parts.append(
            _value_item_def(code, codelist, _length([v for c, v in zip(codes, values, strict=True) if c == code]))
        )
    if ti is not None:
        ti_columns = dict(zip(ti.columns, ti.by_column, strict=True))
        for name, values in ti_columns.items():
            parts.append(_item_def("TI", name, ti.labels[name], _length(values), name == "IETEST" and bool(cut)))
        shown = dict(zip(ti_columns["IETESTCD"], ti_columns["IETEST"], strict=True))
        parts += [_criterion_item_def(code, full, len(shown[code])) for code, full in cut.items()]
    parts.append(_parameter_codelists(frozenset(used)))
    parts += [_value_codelist(codelist) for codelist in dict.fromkeys(coded.values())]
    if ti is not None:
        parts.append(_value_codelist("IECAT"))
    parts.append(_END)
    return b"".join(parts)
