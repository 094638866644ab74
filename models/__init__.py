"""Sector classifier: tags patent documents with the taxonomy's sectors and sub-fields.

Public entry points (stable):

- :func:`models.api.classify_documents` -- list of dicts in, list of result dicts out;
- :func:`models.classifier.load_classifier` -- the loaded model object (``.classify(records)``);
- :func:`models.stage.run_classify_stage` -- the pipeline stage writing ``DocumentTag`` rows.

Nothing heavy is imported here, so ``import models`` stays cheap.
"""
