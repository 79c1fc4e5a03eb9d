from ._extract import (
    ExtractedPatches as ExtractedPatches,
)
from ._extract import (
    extract_patches as extract_patches,
)
from ._extract_io import (
    extract_dataset as extract_dataset,
)
from ._extract_io import (
    read_annotations as read_annotations,
)
from ._extract_io import (
    scale_boxes as scale_boxes,
)
from ._grid import (
    ScanResult as ScanResult,
)
from ._mammogram_set import (
    AnnotatedMammogram as AnnotatedMammogram,
)
from ._mammogram_set import (
    load_mammogram_set as load_mammogram_set,
)
from ._mammogram_set import (
    scan_froc as scan_froc,
)
from ._scan import (
    scan as scan,
)
from ._views import (
    SCAN_FILES as SCAN_FILES,
)
from ._views import (
    render_case_study as render_case_study,
)
from ._views import (
    render_heatmap as render_heatmap,
)
from ._views import (
    render_scan_files as render_scan_files,
)
from ._views import (
    scan_model_label as scan_model_label,
)
from ._views import (
    scan_summary as scan_summary,
)

__all__ = [
    "AnnotatedMammogram",
    "load_mammogram_set",
    "scan_froc",
    "ExtractedPatches",
    "ScanResult",
    "extract_dataset",
    "extract_patches",
    "read_annotations",
    "SCAN_FILES",
    "render_scan_files",
    "scan_model_label",
    "scan_summary",
    "scale_boxes",
    "render_case_study",
    "render_heatmap",
    "scan",
]
