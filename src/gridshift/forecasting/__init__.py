"""As-of forecasts. Nothing that decides may see values that were not known at its "now".

So far: ``perfect`` (the recorded values themselves, loudly named: a what-if, an oracle, never a
live decision). Persistence, seasonal and statistical models arrive with the providers issue.
"""
