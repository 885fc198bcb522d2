"""Features: trade bars, TA-Lib indicators, labels, and the time-split feature tables the models train on."""
