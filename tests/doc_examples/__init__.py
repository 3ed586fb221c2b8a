"""Running the examples of docs/*.md and README.md (the convention: docs/CONTRIBUTING.md).

``blocks`` reads a page into its fenced blocks and markers, ``expect`` turns expected
output into a pattern, ``signatures`` checks documented signatures against the API,
``runner`` runs one page's examples in a directory of its own, ``report`` sums them up
at the end of the pytest run.
"""
