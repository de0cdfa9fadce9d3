"""Define-XML 2.1 for one study's ts.xpt: the dataset, its variables (lengths, origins), the TSPARMCD/TSPARM
codelists and, through value-level metadata, the codelist each coded parameter's TSVAL comes from."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime

from trialport.cdisc.dataset import Dataset
from trialport.cdisc.terminology import CODELISTS, CT_VERSION, parameters, terms

ODM = "http://www.cdisc.org/ns/odm/v1.3"
DEF = "http://www.cdisc.org/ns/def/v2.1"
XLINK = "http://www.w3.org/1999/xlink"
ET.register_namespace("", ODM)
ET.register_namespace("def", DEF)
ET.register_namespace("xlink", XLINK)

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


def _el(parent: ET.Element, tag: str, ns: str = ODM, text: str | None = None, **attrs: str) -> ET.Element:
    element = ET.SubElement(parent, f"{{{ns}}}{tag}", {_attr(k): v for k, v in attrs.items()})
    if text is not None:
        element.text = text
    return element


def _attr(name: str) -> str:
    if name.startswith("def_"):
        return f"{{{DEF}}}{name[4:]}"
    if name.startswith("xlink_"):
        return f"{{{XLINK}}}{name[6:]}"
    return name


def _description(parent: ET.Element, text: str) -> None:
    _el(_el(parent, "Description"), "TranslatedText", text=text, **{"{http://www.w3.org/XML/1998/namespace}lang": "en"})


def _length(data: Dataset, name: str, rows: list | None = None) -> str:
    return str(max([len(str(row[name])) for row in (rows or data.rows)] + [1]))


def define_xml(data: Dataset, study_id: str, title: str, created: datetime | None = None) -> bytes:
    created = created or datetime.now(UTC)
    root = ET.Element(
        f"{{{ODM}}}ODM",
        {
            "FileType": "Snapshot",
            "FileOID": f"DEFINE.{study_id}.TS",
            "ODMVersion": "1.3.2",
            "CreationDateTime": created.strftime("%Y-%m-%dT%H:%M:%S"),
            "Originator": "trialport",
            "SourceSystem": "trialport",
            f"{{{DEF}}}Context": "Submission",
        },
    )
    study = _el(root, "Study", OID=f"STUDY.{study_id}")
    variables = _el(study, "GlobalVariables")
    _el(variables, "StudyName", text=study_id)
    _el(variables, "StudyDescription", text=title)
    _el(variables, "ProtocolName", text=study_id)
    mdv = _el(study, "MetaDataVersion", OID="MDV.1", Name="Trial Summary", def_DefineVersion="2.1.0")
    standards = _el(mdv, "Standards", DEF)
    _el(standards, "Standard", DEF, OID="STD.SDTMIG", Name="SDTMIG", Type="IG", Version="3.4", Status="Final")
    _el(
        standards,
        "Standard",
        DEF,
        OID="STD.CT",
        Name="CDISC/NCI",
        Type="CT",
        PublishingSet="SDTM",
        Version=CT_VERSION,
        Status="Final",
    )

    coded = {code: codelist for code, codelist in CODED.items() if any(r["TSPARMCD"] == code for r in data.rows)}
    if coded:
        values = _el(mdv, "ValueListDef", DEF, OID="VL.TS.TSVAL")
        for number, code in enumerate(coded, 1):
            ref = _el(values, "ItemRef", ItemOID=f"IT.TS.TSVAL.{code}", OrderNumber=str(number), Mandatory="Yes")
            _el(ref, "WhereClauseRef", DEF, WhereClauseOID=f"WC.TS.TSPARMCD.{code}")
        for code in coded:
            clause = _el(mdv, "WhereClauseDef", DEF, OID=f"WC.TS.TSPARMCD.{code}")
            check = _el(clause, "RangeCheck", Comparator="EQ", SoftHard="Soft", def_ItemOID="IT.TS.TSPARMCD")
            _el(check, "CheckValue", text=code)

    group = _el(
        mdv,
        "ItemGroupDef",
        OID="IG.TS",
        Name="TS",
        SASDatasetName="TS",
        Repeating="No",
        IsReferenceData="No",
        Purpose="Tabulation",
        def_Structure="One record per trial summary parameter value",
        def_StandardOID="STD.SDTMIG",
        def_ArchiveLocationID="LF.TS",
    )
    _description(group, "Trial Summary")
    for number, name in enumerate(data.columns, 1):
        attrs = {"ItemOID": f"IT.TS.{name}", "OrderNumber": str(number), "Mandatory": "Yes" if name in KEYS else "No"}
        if name in KEYS:
            attrs["KeySequence"] = str(KEYS.index(name) + 1)
        _el(group, "ItemRef", **attrs)
    _el(group, "Class", DEF, Name="TRIAL DESIGN")
    leaf = _el(group, "leaf", DEF, ID="LF.TS", xlink_href="ts.xpt")
    _el(leaf, "title", DEF, text="ts.xpt")

    for name in data.columns:
        numeric = name == "TSSEQ"
        item = _el(
            mdv,
            "ItemDef",
            OID=f"IT.TS.{name}",
            Name=name,
            SASFieldName=name,
            DataType="integer" if numeric else "text",
            Length=_length(data, name),
        )
        _description(item, data.labels[name])
        if name in ("TSPARMCD", "TSPARM"):
            _el(item, "CodeListRef", CodeListOID=f"CL.{name}")
        kind, source = ORIGINS.get(name, ("Protocol", None))
        _el(item, "Origin", DEF, Type=kind, **({"Source": source} if source else {}))
        if name == "TSVAL" and coded:
            _el(item, "ValueListRef", DEF, ValueListOID="VL.TS.TSVAL")
    for code, codelist in coded.items():
        rows = [r for r in data.rows if r["TSPARMCD"] == code]
        item = _el(
            mdv,
            "ItemDef",
            OID=f"IT.TS.TSVAL.{code}",
            Name="TSVAL",
            DataType="text",
            Length=_length(data, "TSVAL", rows),
        )
        _description(item, f"Parameter Value for {code}")
        _el(item, "CodeListRef", CodeListOID=f"CL.{codelist}")
        _el(item, "Origin", DEF, Type="Protocol")

    used = {r["TSPARMCD"] for r in data.rows}
    _codelist(
        mdv, "TSPARMCD", [(t.submission_value, t.ccode) for t in parameters().values() if t.submission_value in used]
    )
    _codelist(mdv, "TSPARM", [(t.term, t.ccode) for t in parameters().values() if t.submission_value in used])
    for codelist in dict.fromkeys(coded.values()):
        _codelist(mdv, codelist, [(t.submission_value, t.ccode) for t in terms() if t.codelist == codelist])
    ET.indent(root)
    return ET.tostring(root, encoding="UTF-8", xml_declaration=True) + b"\n"


def _codelist(mdv: ET.Element, name: str, items: list[tuple[str, str]]) -> None:
    nci_code, title = CODELISTS[name]
    codelist = _el(mdv, "CodeList", OID=f"CL.{name}", Name=title, DataType="text", def_StandardOID="STD.CT")
    for value, ccode in items:
        item = _el(codelist, "EnumeratedItem", CodedValue=value)
        _el(item, "Alias", Context="nci:ExtCodeID", Name=ccode)
    _el(codelist, "Alias", Context="nci:ExtCodeID", Name=nci_code)
