"""Define-XML 2.1 for one study's ts.xpt: the dataset, its variables (lengths, origins), the TSPARMCD/TSPARM
codelists and, through value-level metadata, the codelist each coded parameter's TSVAL comes from.

Most of the document is the same for every study, so it is assembled from text fragments (cached by what
they depend on) rather than built as a tree: only the study's identifier, title, lengths and the sets of
parameters and coded values it uses vary. Every value put in is escaped for XML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cache
from typing import Any

from trialport.cdisc.dataset import Dataset
from trialport.cdisc.terminology import CODELISTS, CT_VERSION, parameters, terms

ODM = "http://www.cdisc.org/ns/odm/v1.3"
DEF = "http://www.cdisc.org/ns/def/v2.1"
XLINK = "http://www.w3.org/1999/xlink"

ORIGINS = {  # variable → (Define-XML origin type, source)
    "STUDYID": ("Protocol", None),
    "DOMAIN": ("Assigned", "Sponsor"),
    "TSSEQ": ("Assigned", "Sponsor"),
    "TSPARMCD": ("Assigned", "Sponsor"),
    "TSPARM": ("Assigned", "Sponsor"),
}
KEYS = ("STUDYID", "TSPARMCD", "TSSEQ")
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
def _value_lists(coded: tuple[str, ...]) -> bytes:
    """The value list of TSVAL and the where clause of each coded parameter."""
    parts = ['      <def:ValueListDef OID="VL.TS.TSVAL">\n']
    for number, code in enumerate(coded, 1):
        parts.append(
            f'        <ItemRef ItemOID="IT.TS.TSVAL.{code}" OrderNumber="{number}" Mandatory="Yes">\n'
            f'          <def:WhereClauseRef WhereClauseOID="WC.TS.TSPARMCD.{code}" />\n'
            "        </ItemRef>\n"
        )
    parts.append("      </def:ValueListDef>\n")
    for code in coded:
        parts.append(
            f'      <def:WhereClauseDef OID="WC.TS.TSPARMCD.{code}">\n'
            '        <RangeCheck Comparator="EQ" SoftHard="Soft" def:ItemOID="IT.TS.TSPARMCD">\n'
            f"          <CheckValue>{text(code)}</CheckValue>\n"
            "        </RangeCheck>\n"
            "      </def:WhereClauseDef>\n"
        )
    return "".join(parts).encode()


@cache
def _item_group(columns: tuple[str, ...]) -> bytes:
    parts = [
        '      <ItemGroupDef OID="IG.TS" Name="TS" SASDatasetName="TS" Repeating="No" IsReferenceData="No" '
        'Purpose="Tabulation" def:Structure="One record per trial summary parameter value" '
        'def:StandardOID="STD.SDTMIG" def:ArchiveLocationID="LF.TS">\n',
        _description("        ", "Trial Summary"),
    ]
    for number, name in enumerate(columns, 1):
        key = f' KeySequence="{KEYS.index(name) + 1}"' if name in KEYS else ""
        mandatory = "Yes" if name in KEYS else "No"
        oid = attribute(name)
        parts.append(f'        <ItemRef ItemOID="IT.TS.{oid}" OrderNumber="{number}" Mandatory="{mandatory}"{key} />\n')
    parts.append(
        '        <def:Class Name="TRIAL DESIGN" />\n'
        '        <def:leaf ID="LF.TS" xlink:href="ts.xpt">\n'
        "          <def:title>ts.xpt</def:title>\n"
        "        </def:leaf>\n"
        "      </ItemGroupDef>\n"
    )
    return "".join(parts).encode()


@cache
def _item_def(name: str, label: str, length: int, value_list: bool) -> bytes:
    oid = attribute(name)
    kind = "integer" if name == "TSSEQ" else "text"
    parts = [
        f'      <ItemDef OID="IT.TS.{oid}" Name="{oid}" SASFieldName="{oid}" DataType="{kind}" Length="{length}">\n',
        _description("        ", label),
    ]
    if name in ("TSPARMCD", "TSPARM"):
        parts.append(f'        <CodeListRef CodeListOID="CL.{name}" />\n')
    origin, source = ORIGINS.get(name, ("Protocol", None))
    parts.append(f'        <def:Origin Type="{origin}"' + (f' Source="{source}"' if source else "") + " />\n")
    if value_list:
        parts.append('        <def:ValueListRef ValueListOID="VL.TS.TSVAL" />\n')
    parts.append("      </ItemDef>\n")
    return "".join(parts).encode()


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


def define_xml(data: Dataset, study_id: str, title: str | None, created: datetime | None = None) -> bytes:
    created = created or datetime.now(UTC)
    sid = attribute(study_id)
    used = {row["TSPARMCD"] for row in data.rows}
    coded = {code: codelist for code, codelist in CODED.items() if code in used}
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
        + '    </GlobalVariables>\n    <MetaDataVersion OID="MDV.1" Name="Trial Summary" def:DefineVersion="2.1.0">\n'
    )
    parts = [head.encode(), _STANDARDS]
    if coded:
        parts.append(_value_lists(tuple(coded)))
    parts.append(_item_group(tuple(data.columns)))
    by_column = dict(zip(data.columns, data.by_column, strict=True))
    for name, values in by_column.items():
        parts.append(_item_def(name, data.labels[name], _length(values), name == "TSVAL" and bool(coded)))
    codes, values = by_column["TSPARMCD"], by_column["TSVAL"]
    for code, codelist in coded.items():
        parts.append(
            _value_item_def(code, codelist, _length([v for c, v in zip(codes, values, strict=True) if c == code]))
        )
    parts.append(_parameter_codelists(frozenset(used)))
    parts += [_value_codelist(codelist) for codelist in dict.fromkeys(coded.values())]
    parts.append(_END)
    return b"".join(parts)
