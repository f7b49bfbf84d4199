"""detect: MobileNet V1/V2/V3 + SSDLite object detection for phones, edge boxes and CPUs."""

__version__ = "0.1.0"
