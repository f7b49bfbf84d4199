"""Models: the MobileNet backbones (and, later, the SSDLite detector)."""

from detect.models.backbones import BACKBONES, backbone_spec, mobilenet
from detect.models.convert import load_torchvision_mobilenet

__all__ = ["BACKBONES", "backbone_spec", "load_torchvision_mobilenet", "mobilenet"]
