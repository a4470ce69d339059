"""Sources of signals: files (CSV, Parquet) and, later, live providers; validation; alignment.

May import ``domain``; never ``planner``, ``store``, ``engine`` or ``cli``.
"""
