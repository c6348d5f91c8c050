"""Datasets: import (folder, zip, CSV, upload, demo), image checking, manifest and report, splits."""

from __future__ import annotations

from tlcore.data.dataset import (
    Dataset,
    ImageRecord,
    ImportReport,
    Skipped,
    dataset_id,
    list_datasets,
    load_dataset,
    load_image,
    load_report,
)
from tlcore.data.demo import import_demo
from tlcore.data.images import ACCEPTED_FORMATS, CheckedImage, ImageRejected, check_image, image_hash
from tlcore.data.importing import import_csv, import_files, import_folder, import_path, import_zip, read_label_csv
from tlcore.data.limits import ImportLimits
from tlcore.data.split import Split, check_class_sizes, hash_groups, imbalance_warning, make_split

__all__ = [
    "ACCEPTED_FORMATS",
    "CheckedImage",
    "Dataset",
    "ImageRecord",
    "ImageRejected",
    "ImportLimits",
    "ImportReport",
    "Skipped",
    "Split",
    "check_class_sizes",
    "check_image",
    "dataset_id",
    "hash_groups",
    "imbalance_warning",
    "image_hash",
    "import_csv",
    "import_demo",
    "import_files",
    "import_folder",
    "import_path",
    "import_zip",
    "list_datasets",
    "load_dataset",
    "load_image",
    "load_report",
    "make_split",
    "read_label_csv",
]
