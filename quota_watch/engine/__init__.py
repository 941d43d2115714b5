"""The rules engine: rule pack, rule kinds, alert state machine and replay (pure, no I/O).

The package exports nothing itself: importing one module (the report needs the rule pack, not
the replay) does not import the others. Import names from their modules.
"""
