"""Reports: the monthly sheet HR signs, daily and summary reports, exceptions, the raw punch log, payroll.

* :mod:`central.reports.document` — what every report is: a :class:`~central.reports.document.Report` of
  parts (tables with typed columns, flagged cells, totals and charts). Builders make one, writers render it.
* :mod:`central.reports.registry` — the reports by name, their parameters and the formats they render to.
* Builders (one module each): ``monthly``, ``daily``, ``summary``, ``exceptions``, ``punches``, ``payroll``.
* Writers: :mod:`central.reports.csv_writer`, :mod:`central.reports.xlsx_writer`, :mod:`central.reports.pdf_writer`.
"""
