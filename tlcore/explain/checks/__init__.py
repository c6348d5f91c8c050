"""Can a map be trusted? The model-randomisation sanity check (:mod:`tlcore.explain.checks.sanity`) and the
deletion/insertion faithfulness scores (:mod:`tlcore.explain.checks.faithfulness`)."""
