"""Data: COCO-format datasets, augmentation presets, the synthetic shapes set, the DataModule."""
