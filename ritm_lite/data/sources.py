"""Where RITM's datasets come from: the registry that ``python -m ritm_lite.data.download`` reads.

Each :class:`DatasetSource` names a dataset's archives (URLs tried in order, published size
and MD5 where one exists), its licence note and the layout it unpacks to under ``--root``.
``data/README.md`` shows the same table.
"""

from __future__ import annotations

from dataclasses import dataclass

FBRS = "https://github.com/saic-vul/fbrs_interactive_segmentation/releases/download/v1.0"
LVIS = "dl.fbaipublicfiles.com/LVIS"



@dataclass(frozen=True)
class Archive:
    """One file to fetch and unpack."""

    filename: str
    urls: tuple[str, ...]  # tried in order (official first, then mirrors)
    size: str              # as published, for the user's disk planning
    md5: str | None = None  # None: no checksum is published
    extract_to: str = ""    # folder under the dataset root to unpack into ("" = the root)
    resumable: bool = False  # many GB: stream to a .part file that a second run resumes


@dataclass(frozen=True)
class DatasetSource:
    """A dataset: its archives, where it comes from and what it looks like unpacked."""

    name: str
    description: str
    homepage: str
    licence: str
    archives: tuple[Archive, ...]
    expected: tuple[str, ...]  # paths under --root that exist once it is unpacked
    layout: str                # the layout, for the documentation


_COCO_LICENCE = ("annotations CC BY 4.0; images under their Flickr licences "
                 "(cocodataset.org/#termsofuse)")
_COCO_ANN = Archive("annotations_trainval2017.zip",
                    ("http://images.cocodataset.org/annotations/annotations_trainval2017.zip",),
                    "241 MB", "f4bbac642086de4f52a3fdda2de5fa2c", "coco2017")
_COCO_VAL = Archive("val2017.zip", ("http://images.cocodataset.org/zips/val2017.zip",),
                    "778 MB", "442b8da7639aecaf257c1dceb8ba8c80", "coco2017")
_COCO_TRAIN = Archive("train2017.zip", ("http://images.cocodataset.org/zips/train2017.zip",),
                      "18 GB", "cced6f7f71b7629ddf16f17bbcfab6b2", "coco2017", resumable=True)


def _lvis(split: str, size: str) -> Archive:
    name = f"lvis_v1_{split}.json.zip"
    urls = (f"https://{LVIS}/{name}", f"https://s3-us-west-2.amazonaws.com/{LVIS}/{name}")
    return Archive(name, urls, size, None, "lvis")


def _fbrs(name: str, size: str) -> Archive:
    return Archive(f"{name}.zip", (f"{FBRS}/{name}.zip",), size, None, name)


REGISTRY: dict[str, DatasetSource] = {s.name: s for s in (
    DatasetSource("coco2017", "COCO 2017 train + val images and instance annotations "
                  "(118k + 5k images)", "https://cocodataset.org/#download", _COCO_LICENCE,
                  (_COCO_ANN, _COCO_VAL, _COCO_TRAIN),
                  ("coco2017/annotations/instances_train2017.json", "coco2017/train2017",
                   "coco2017/val2017"),
                  "coco2017/{annotations/instances_{train,val}2017.json, train2017/*.jpg, "
                  "val2017/*.jpg}"),
    DatasetSource("coco2017-val", "COCO 2017 val images + all annotations (a 1 GB start)",
                  "https://cocodataset.org/#download", _COCO_LICENCE, (_COCO_ANN, _COCO_VAL),
                  ("coco2017/annotations/instances_val2017.json", "coco2017/val2017"),
                  "coco2017/{annotations/, val2017/*.jpg}"),
    DatasetSource("lvis-v1", "LVIS v1.0 train + val annotations (images are COCO 2017's)",
                  "https://www.lvisdataset.org/dataset",
                  "annotations CC BY 4.0; images are COCO's (Flickr licences)",
                  (_lvis("train", "~350 MB"), _lvis("val", "~64 MB")),
                  ("lvis/lvis_v1_train.json", "lvis/lvis_v1_val.json"),
                  "lvis/lvis_v1_{train,val}.json"),
    DatasetSource("grabcut", "GrabCut: 50 images, one object each (test)",
                  "https://github.com/saic-vul/fbrs_interactive_segmentation",
                  "research benchmark (Rother et al. 2004); check the publisher's terms",
                  (_fbrs("GrabCut", "11 MB"),), ("GrabCut/data_GT", "GrabCut/boundary_GT"),
                  "GrabCut/{data_GT/*.jpg|bmp, boundary_GT/*.bmp}"),
    DatasetSource("berkeley", "Berkeley: 96 images, 100 instances (test)",
                  "https://github.com/saic-vul/fbrs_interactive_segmentation",
                  "from the Berkeley Segmentation Dataset; research use, check its terms",
                  (_fbrs("Berkeley", "7 MB"),), ("Berkeley/images", "Berkeley/masks"),
                  "Berkeley/{images/*.jpg, masks/*.png}"),
    DatasetSource("davis", "DAVIS: 345 frames, one object each (test)",
                  "https://github.com/saic-vul/fbrs_interactive_segmentation",
                  "from DAVIS 2016 (Perazzi et al.); check davischallenge.org terms",
                  (_fbrs("DAVIS", "43 MB"),), ("DAVIS/img", "DAVIS/gt"),
                  "DAVIS/{img/*.jpg, gt/*.png}"),
    DatasetSource("coco-mval", "COCO_MVal: 800 COCO val2017 instances (test)",
                  "https://github.com/saic-vul/fbrs_interactive_segmentation", _COCO_LICENCE,
                  (_fbrs("COCO_MVal", "127 MB"),), ("COCO_MVal/img", "COCO_MVal/gt"),
                  "COCO_MVal/{img/*.jpg, gt/*.png}"),
    DatasetSource("sbd", "SBD: 8498 train / 2857 val images with instance masks",
                  "http://home.bharathh.info/pubs/codes/SBD/download.html",
                  "research use (Hariharan et al. 2011); images from PASCAL VOC (Flickr)",
                  (Archive("benchmark.tgz", ("https://www2.eecs.berkeley.edu/Research/Projects/"
                                             "CS/vision/grouping/semantic_contours/benchmark.tgz",),
                           "1.4 GB", "82b4d87ceb2ed10f6038a1cba92111cb", "SBD"),),
                  ("SBD/benchmark_RELEASE/dataset/img", "SBD/benchmark_RELEASE/dataset/inst"),
                  "SBD/benchmark_RELEASE/dataset/{img/*.jpg, inst/*.mat, train.txt, val.txt}"),
    DatasetSource("pascal-voc", "PASCAL VOC 2012 trainval (1449 val images, 3417 instances)",
                  "http://host.robots.ox.ac.uk/pascal/VOC/",
                  "images under Flickr terms; annotations: see the VOC site",
                  (Archive("VOCtrainval_11-May-2012.tar",
                           ("http://host.robots.ox.ac.uk/pascal/VOC/voc2012/"
                            "VOCtrainval_11-May-2012.tar",),
                           "1.9 GB", "6cd6e144f989b92b3379bac3b3de84fd", "PascalVOC"),),
                  ("PascalVOC/VOCdevkit/VOC2012/SegmentationObject",),
                  "PascalVOC/VOCdevkit/VOC2012/{JPEGImages, SegmentationObject, "
                  "ImageSets/Segmentation}"),
    DatasetSource("duts-tr", "DUTS-TR: 10,553 photos, one salient-object mask each (0/255 PNG)",
                  "http://saliencydetection.net/duts/",
                  "research use only (DUTS terms, saliencydetection.net)",
                  (Archive("DUTS-TR.zip", ("http://saliencydetection.net/duts/download/DUTS-TR.zip",),
                           "~260 MB", None, "DUTS-TR"),),
                  ("DUTS-TR/DUTS-TR-Image", "DUTS-TR/DUTS-TR-Mask"),
                  "DUTS-TR/{DUTS-TR-Image/*.jpg, DUTS-TR-Mask/*.png}"),
)}

