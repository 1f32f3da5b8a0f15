"""Reference numbers of the paper and related sources, with their status.

The numbers live in ``analysis/data/reference_numbers.csv`` (one row per number, copied from
``shared/reference/dynamic_rcnn_facts.md`` section 1). Every number carries a status:

- ``verified``: read in the named source;
- ``derived``: arithmetic on verified numbers;
- ``unverified``: recalled, not checked against the paper's PDF;
- ``reported``: read in the named public source (an issue thread, a repository's docs) by a search of public
  repositories, not re-checked against a paper; an order of magnitude (the seed-to-seed spread on COCO).
"""

import csv
from dataclasses import dataclass
from importlib import resources

STATUSES = ("verified", "derived", "unverified", "reported")
STATUS_MARKS = {"verified": "[v]", "derived": "[d]", "unverified": "[u]", "reported": "[r]"}
STATUS_LEGEND = (
    "[v] verified: read in the named source; "
    "[d] derived: arithmetic on verified numbers; "
    "[u] unverified: recalled, not checked against the paper's PDF, "
    "not to be cited as the paper's number; "
    "[r] reported: read in a named public source (issue thread, repository docs), an order of magnitude."
)

COLUMNS = (
    "table",
    "source_key",
    "source",
    "split",
    "model_or_arm",
    "metric",
    "value",
    "unit",
    "approx",
    "status",
    "note",
)


@dataclass(frozen=True)
class Reference:
    """One reference number.

    Args:
        table (str): which facts table it comes from (``ablation``, ``breakdown``, ...).
        source_key (str): short source id (``paper``, ``repro_report``, ``mmdet_zoo``, ...).
        source (str): human-readable source.
        split (str): dataset split (``val2017``, ``test-dev``, ...), may be empty.
        model_or_arm (str): arm name (``baseline``, ``dla``, ``dsl``, ``dynamic_rcnn``) or model.
        metric (str): metric name (``AP``, ``AP50``, ``AP_gain``, ...).
        value (float): the number, in the unit of ``unit`` (AP in percent).
        unit (str): unit of ``value``.
        approx (bool): True when the source only gives an approximate value (``~38.0``).
        status (str): one of :data:`STATUSES`.
        note (str): why the status is what it is.
    """

    table: str
    source_key: str
    source: str
    split: str
    model_or_arm: str
    metric: str
    value: float
    unit: str
    approx: bool
    status: str
    note: str

    @property
    def mark(self):
        """str: the status marker printed next to the number, e.g. ``[u]``."""
        return STATUS_MARKS[self.status]

    def format(self, digits=1):
        """Format the value with its approximation sign and status marker.

        Args:
            digits (int): decimals.

        Returns:
            str: e.g. ``'~38.0 [u]'``.
        """
        return f"{'~' if self.approx else ''}{self.value:.{digits}f} {self.mark}"


def default_path():
    """Path of the CSV shipped with the package."""
    return resources.files("analysis") / "data" / "reference_numbers.csv"


def load_references(path=None):
    """Load and validate the reference numbers.

    Args:
        path (str | Path, optional): CSV file; the packaged one by default.

    Returns:
        list[Reference]: every reference number, in file order.
    """
    path = default_path() if path is None else path
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise ValueError(f"{path}: columns {reader.fieldnames} differ from the expected {list(COLUMNS)}")
        refs = []
        for line, row in enumerate(reader, start=2):
            if row["status"] not in STATUSES:
                raise ValueError(f"{path}:{line}: status {row['status']!r} is not one of {STATUSES}")
            if row["approx"] not in ("True", "False"):
                raise ValueError(f"{path}:{line}: approx must be True or False, got {row['approx']!r}")
            try:
                value = float(row["value"])
            except ValueError:
                raise ValueError(f"{path}:{line}: value {row['value']!r} is not a number") from None
            refs.append(Reference(**{**row, "value": value, "approx": row["approx"] == "True"}))
    keys = [(r.table, r.source_key, r.split, r.model_or_arm, r.metric, r.value) for r in refs]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{path}: duplicate reference rows")
    return refs


def find(refs, table, model_or_arm, metric, source_key=None, split=None):
    """The unique reference matching the given fields, or None.

    Args:
        refs (list[Reference]): from :func:`load_references`.
        table (str): facts table.
        model_or_arm (str): arm or model.
        metric (str): metric name.
        source_key (str, optional): restrict to one source.
        split (str, optional): restrict to one split.

    Returns:
        Reference | None
    """
    hits = [
        r
        for r in refs
        if r.table == table
        and r.model_or_arm == model_or_arm
        and r.metric == metric
        and (source_key is None or r.source_key == source_key)
        and (split is None or r.split == split)
    ]
    if len(hits) > 1:
        raise ValueError(f"ambiguous reference {table}/{model_or_arm}/{metric}: {len(hits)} rows match")
    return hits[0] if hits else None


def combined_status(*statuses):
    """Status of a number computed from several reference numbers.

    Arithmetic on verified or derived numbers is derived; anything touching an unverified
    number stays unverified.

    Args:
        *statuses (str): statuses of the inputs.

    Returns:
        str
    """
    return "unverified" if "unverified" in statuses else "derived"


def paper_gain(refs, arm, metric):
    """The paper's gain of ``arm`` over the baseline: the abstract's when given, else table arithmetic.

    Args:
        refs (list[Reference]): from :func:`load_references`.
        arm (str): ``dla``, ``dsl`` or ``dynamic_rcnn``.
        metric (str): ``AP``, ``AP50``, ...

    Returns:
        tuple[float, str, bool] | None: value, status, approx.
    """
    if arm == "dynamic_rcnn":
        ref = find(refs, "abstract", arm, f"{metric}_gain")
        if ref is not None:
            return ref.value, ref.status, ref.approx
    a = find(refs, "ablation", arm, metric, source_key="paper")
    b = find(refs, "ablation", "baseline", metric, source_key="paper")
    if a is None or b is None:
        return None
    return a.value - b.value, combined_status(a.status, b.status), a.approx or b.approx


@dataclass(frozen=True)
class Statement:
    """A statement of a source that is not a number (e.g. what the paper reports about a setting it tried).

    Args:
        key (str): short id.
        source (str): human-readable source.
        text (str): what the source says, in our words.
        status (str): one of :data:`STATUSES`.
        note (str): why the status is what it is.
    """

    key: str
    source: str
    text: str
    status: str
    note: str

    @property
    def mark(self):
        """str: the status marker printed next to the statement, e.g. ``[u]``."""
        return STATUS_MARKS[self.status]

    def format(self):
        """str: ``source: text [mark] (status: note)``, the way a report prints it (never without its status)."""
        return f"{self.source}: {self.text} {self.mark} ({self.status}: {self.note})."


_CONTROLS_NOTE = (
    "the source is the first author's comment in issue #10 of the authors' repository (hkzhang95/DynamicRCNN), "
    "not the paper, as the project's issue 21 found; the comment was not re-read for this report and is not in "
    "shared/reference/dynamic_rcnn_facts.md"
)
#: The first author's statements about fixed settings of the R-CNN head (the controls table prints them with their
#: status).
STATEMENTS = (
    Statement(
        "fixed_beta",
        "First author, issue #10 of hkzhang95/DynamicRCNN (not the paper)",
        "the authors tried common fixed SmoothL1 betas (0.5 to 2.0; the baseline's is 1.0) and found a smaller beta "
        "better than the default",
        "unverified",
        _CONTROLS_NOTE,
    ),
    Statement(
        "l1_loss",
        "First author, issue #10 of hkzhang95/DynamicRCNN (not the paper)",
        "plain L1 loss in the R-CNN head improves on the SmoothL1 baseline (beta 1.0), but less than DSL",
        "unverified",
        _CONTROLS_NOTE,
    ),
)
