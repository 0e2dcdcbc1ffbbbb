"""Utilities: config loading (:mod:`.config`), FLOP counting (:mod:`.flops`) and
benchmark timing and memory (:mod:`.benchmark`)."""
