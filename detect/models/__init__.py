"""Models: the MobileNet backbones and the SSDLite detector."""

from detect.models.backbones import BACKBONES, backbone_spec, mobilenet
from detect.models.convert import load_torchvision
from detect.models.detector import SSDLite, ssdlite
from detect.models.transform import preprocess

__all__ = [
    "BACKBONES",
    "SSDLite",
    "backbone_spec",
    "load_torchvision",
    "mobilenet",
    "preprocess",
    "ssdlite",
]
