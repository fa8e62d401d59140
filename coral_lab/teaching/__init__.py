"""Teaching: the interactive lab (``lab``), graded exercises and their answer key (``exercises``,
``answer_keys.json``), and the PID measures of notebook 01 (``pid``).

The drawing and teaching layer, with ``drawing``.
"""
