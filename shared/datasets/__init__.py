"""Datasets in formats other tools read (issue 15): COCO, Azure ML AutoML image JSONL + MLTable, CSV.

Built from the export's committed ``images.jsonl`` files (the API's JSON), never from the API again:
the dataset says exactly what the export holds. ``source`` reads the listings once per pass;
``coco``, ``azureml`` and ``rows`` turn each image into its format's shape.
"""
