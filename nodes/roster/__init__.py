"""Roster import and export: the CSV that an organisation's student or HR system produces.

``parse`` reads and checks a file without touching the database, ``apply`` writes the checked rows in one
transaction, ``export`` writes the roster back out as CSV with formula cells neutralised.
"""
