"""One module per dashboard document; each builds its document from plain reads.

``common`` holds what they share (header, sections, the export context), ``predictions``
the scored bars the market panel and the header's model version use. The manifest is built
last, from the other documents.
"""
