"""The Salesforce reports and the "Partner vs direct pipeline" dashboard in salesforce/force-app: well-formed
Metadata API XML that references existing folders, reports, columns and deployed fields.

Nothing here is deployed to a real org; this checks what `sf project deploy start` would be given."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from xml.etree import ElementTree

from storage.crm.mapping import ATTRIBUTION_FIELDS

DEFAULT = Path(__file__).resolve().parent.parent / "salesforce" / "force-app" / "main" / "default"
DASHBOARD = DEFAULT / "dashboards" / "Partnerbot" / "Partner_vs_Direct_Pipeline.dashboard-meta.xml"
NS = {"md": "http://soap.sforce.com/2006/04/metadata"}
# Column names of the standard Opportunity report type the reports use, and the Opportunity field behind each.
STANDARD_COLUMNS = {
    "OPPORTUNITY_NAME": "Name", "ACCOUNT_NAME": "AccountId", "STAGE_NAME": "StageName", "AMOUNT": "Amount",
    "CLOSE_DATE": "CloseDate", "CLOSED": "IsClosed", "WON": "IsWon",
}
STANDARD_REPORT_TYPES = {"Opportunity"}
# What the Metadata API accepts for the summary of a column, and how a formula names it.
FORMULA_SUMMARIES = {"SUM": "Sum", "AVG": "Average", "MAX": "Maximum", "MIN": "Minimum"}


def _tag(element: ElementTree.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def _texts(element: ElementTree.Element, path: str) -> list[str]:
    return [e.text or "" for e in element.iterfind(path, NS)]


def _order_problems(name: str, element: ElementTree.Element) -> list[str]:
    """The Metadata API reads these types' elements in their WSDL order, which is alphabetical."""
    tags = [_tag(child) for child in element]
    problems = [f"{name}: <{b}> must come before <{a}> in <{_tag(element)}>" for a, b in zip(tags, tags[1:]) if b < a]
    return problems + [p for child in element for p in _order_problems(name, child)]


def _field_problems(name: str, column: str, custom: set[str]) -> list[str]:
    if column in STANDARD_COLUMNS:
        return []
    match = re.fullmatch(r"Opportunity\.(\w+__c)", column)
    if not match:
        return [f"{name}: unknown column {column}"]
    return [] if match.group(1) in custom else [f"{name}: Opportunity.{match.group(1)} is not in force-app"]


def metadata_problems(root: Path = DEFAULT) -> list[str]:
    """Everything wrong with the report folder, reports and dashboard under `root` (empty when all is right)."""
    problems: list[str] = []
    custom = {p.name.removesuffix(".field-meta.xml") for p in (root / "objects" / "Opportunity" / "fields").glob("*")}
    report_types = STANDARD_REPORT_TYPES | {
        p.name.removesuffix(".reportType-meta.xml") + "__c"
        for p in (root / "reportTypes").glob("*.reportType-meta.xml")
    }
    files = sorted((root / "reports").rglob("*.xml")) + sorted((root / "dashboards").rglob("*.xml"))
    parsed: dict[Path, ElementTree.Element] = {}
    for path in files:
        name = str(path.relative_to(root))
        try:
            parsed[path] = ElementTree.parse(path).getroot()
        except ElementTree.ParseError as exc:
            problems.append(f"{name}: not well-formed XML ({exc})")
            continue
        if not parsed[path].tag.startswith("{" + NS["md"] + "}"):
            problems.append(f"{name}: not in the Metadata API namespace")
        problems += _order_problems(name, parsed[path])

    reports: dict[str, ElementTree.Element] = {}
    for path, report in parsed.items():
        name = str(path.relative_to(root))
        if not path.name.endswith(".report-meta.xml"):
            continue
        folder = path.parent.name
        if not (root / "reports" / f"{folder}.reportFolder-meta.xml").is_file():
            problems.append(f"{name}: no reports/{folder}.reportFolder-meta.xml")
        if report.findtext("md:reportType", namespaces=NS) not in report_types:
            problems.append(f"{name}: unknown report type {report.findtext('md:reportType', namespaces=NS)}")
        columns = {c.findtext("md:field", namespaces=NS): set(_texts(c, "md:aggregateTypes"))
                   for c in report.iterfind("md:columns", NS)}
        named = [*columns, *_texts(report, "md:groupingsDown/md:field"),
                 *_texts(report, "md:filter/md:criteriaItems/md:column"),
                 *_texts(report, "md:timeFrameFilter/md:dateColumn")]
        for column in named:
            problems += _field_problems(name, column, custom)
        for formula in _texts(report, "md:aggregates/md:calculatedFormula"):
            for column, summary in re.findall(r"(\w+):(\w+)", formula):
                if FORMULA_SUMMARIES.get(summary) not in columns.get(column, set()):
                    problems.append(f"{name}: formula uses {column}:{summary}, not a summarised column of the report")
        reports[f"{folder}/{path.name.removesuffix('.report-meta.xml')}"] = report

    for path, dashboard in parsed.items():
        name = str(path.relative_to(root))
        if not path.name.endswith(".dashboard-meta.xml"):
            continue
        if not (root / "dashboards" / f"{path.parent.name}.dashboardFolder-meta.xml").is_file():
            problems.append(f"{name}: no dashboards/{path.parent.name}.dashboardFolder-meta.xml")
        for component in dashboard.iterfind("*/md:components", NS):
            source = component.findtext("md:report", namespaces=NS)
            report = reports.get(source)
            if report is None:
                problems.append(f"{name}: component '{component.findtext('md:header', namespaces=NS)}' "
                                f"shows report {source}, which is not in force-app")
                continue
            groupings = _texts(report, "md:groupingsDown/md:field")
            shown = _texts(component, "md:groupingColumn")
            if shown and shown != groupings[: len(shown)]:
                problems.append(f"{name}: {source} is not grouped by {shown}")
            summaries = {c.findtext("md:field", namespaces=NS): set(_texts(c, "md:aggregateTypes"))
                         for c in report.iterfind("md:columns", NS)}
            formulas = set(_texts(report, "md:aggregates/md:developerName"))
            for summary in component.iterfind("md:chartSummary", NS):
                column = summary.findtext("md:column", namespaces=NS)
                aggregate = summary.findtext("md:aggregate", namespaces=NS)
                if column not in formulas and aggregate not in summaries.get(column, set()):
                    problems.append(f"{name}: {source} has no {aggregate} of {column}")
            for table_column in component.iterfind("md:dashboardTableColumn", NS):
                column = table_column.findtext("md:column", namespaces=NS)
                aggregate = table_column.findtext("md:aggregateType", namespaces=NS)
                if column in formulas or (column in groupings and aggregate is None):
                    continue
                if aggregate not in summaries.get(column, set()):
                    problems.append(f"{name}: {source} has no grouping, formula or {aggregate} of {column}")
    return problems


def test_reports_and_dashboard_reference_each_other_and_deployed_fields():
    assert metadata_problems() == []
    reports = sorted(p.name for p in (DEFAULT / "reports" / "Partnerbot").glob("*.report-meta.xml"))
    assert reports == ["Pipeline_by_Attribution_and_Quarter.report-meta.xml",
                       "Win_Rate_by_Attribution.report-meta.xml", "Won_Revenue_Partner_vs_Direct.report-meta.xml"]
    dashboard = ElementTree.parse(DASHBOARD)
    assert dashboard.findtext("md:title", namespaces=NS) == "Partner vs direct pipeline"
    assert _texts(dashboard.getroot(), "*/md:components/md:componentType") == ["BarStacked", "ColumnGrouped", "Table"]


def test_the_reports_split_by_what_the_crm_writer_fills_and_report_readers_may_read():
    written = {name.replace("__r", "__c") for name in ATTRIBUTION_FIELDS}
    used = set()
    for path in (DEFAULT / "reports").rglob("*.report-meta.xml"):
        used |= set(re.findall(r"Opportunity\.(\w+__c)", path.read_text()))
    assert used and used <= written
    readable = set(_texts(ElementTree.parse(DEFAULT / "permissionsets" / "Partnerbot_Reporting.permissionset-meta.xml")
                          .getroot(), "md:fieldPermissions/md:field"))
    assert {f"Opportunity.{name}" for name in used} <= readable


def test_a_renamed_field_or_report_breaks_the_check(tmp_path):
    copy = tmp_path / "default"
    shutil.copytree(DEFAULT, copy)
    field = copy / "objects" / "Opportunity" / "fields" / "Attribution_Type__c.field-meta.xml"
    field.rename(field.with_name("Attribution__c.field-meta.xml"))
    (copy / "reports" / "Partnerbot" / "Win_Rate_by_Attribution.report-meta.xml").rename(
        copy / "reports" / "Partnerbot" / "Win_Rate.report-meta.xml")
    problems = metadata_problems(copy)
    assert "reports/Partnerbot/Pipeline_by_Attribution_and_Quarter.report-meta.xml: Opportunity.Attribution_Type__c " \
           "is not in force-app" in problems
    assert ("dashboards/Partnerbot/Partner_vs_Direct_Pipeline.dashboard-meta.xml: component 'Win rate' shows report "
            "Partnerbot/Win_Rate_by_Attribution, which is not in force-app") in problems


def test_broken_xml_order_and_summaries_are_named(tmp_path):
    copy = tmp_path / "default"
    shutil.copytree(DEFAULT, copy)
    won = copy / "reports" / "Partnerbot" / "Won_Revenue_Partner_vs_Direct.report-meta.xml"
    won.write_text(won.read_text().replace("<aggregateTypes>Sum</aggregateTypes>\n", "", 1))
    pipeline = copy / "reports" / "Partnerbot" / "Pipeline_by_Attribution_and_Quarter.report-meta.xml"
    pipeline.write_text(pipeline.read_text().replace("<format>Summary</format>", "<format>Summary</format><name>x"))
    dashboard = copy / DASHBOARD.relative_to(DEFAULT)
    dashboard.write_text(dashboard.read_text().replace("<aggregateType>Sum</aggregateType>",
                                                       "<aggregateType>Average</aggregateType>"))
    folder = copy / "reports" / "Partnerbot.reportFolder-meta.xml"
    folder.write_text(folder.read_text().replace("<name>Partnerbot</name>", "").replace(
        "<folderShares>", "<name>Partnerbot</name><folderShares>"))
    problems = metadata_problems(copy)
    assert any(p.startswith("reports/Partnerbot/Pipeline_by_Attribution_and_Quarter.report-meta.xml: not well-formed")
               for p in problems)
    assert "reports/Partnerbot.reportFolder-meta.xml: <folderShares> must come before <name> in <ReportFolder>" \
        in problems
    assert ("dashboards/Partnerbot/Partner_vs_Direct_Pipeline.dashboard-meta.xml: "
            "Partnerbot/Won_Revenue_Partner_vs_Direct has no Sum of AMOUNT") in problems
    assert ("dashboards/Partnerbot/Partner_vs_Direct_Pipeline.dashboard-meta.xml: "
            "Partnerbot/Win_Rate_by_Attribution has no grouping, formula or Average of CLOSED") in problems
