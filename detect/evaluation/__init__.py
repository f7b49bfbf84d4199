"""Evaluation: model cost (params, MAdds); later COCO mAP, latency and Pareto reports."""
