#!/usr/bin/env bash
# Rebuilds the two generated documents of the Kelderwick Community Hospital knowledge base
# (samples/README.md, "Fresh unseen set: Kelderwick Community Hospital") from samples/kelderwick-src/:
#
#   samples/kelderwick-src/staff-handbook.html  -> samples/kelderwick/staff-handbook.pdf     (headless Chromium)
#   samples/kelderwick-src/infection-control.md -> samples/kelderwick/infection-control.docx (pandoc)
#
# The other five documents in samples/kelderwick/ are written by hand and are not generated.
# Needs: chromium, pandoc (Debian: apt-get install -y chromium pandoc); pdftotext (poppler-utils)
# is used, when present, to print how much text the PDF yields.
#
# The DOCX is reproducible (SOURCE_DATE_EPOCH fixes its timestamps). The PDF is not byte-for-byte:
# Chromium writes the current time into its CreationDate/ModDate; its text is the same each time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
SRC="$ROOT/samples/kelderwick-src"
OUT="$ROOT/samples/kelderwick"
export SOURCE_DATE_EPOCH=1767603600  # 2026-01-05 09:00 UTC

for tool in chromium pandoc; do
  command -v "$tool" >/dev/null || { echo "missing: $tool (apt-get install -y $tool)" >&2; exit 1; }
done

chromium --headless --no-sandbox --disable-gpu --no-pdf-header-footer \
  --print-to-pdf="$OUT/staff-handbook.pdf" "file://$SRC/staff-handbook.html" 2>/dev/null

pandoc "$SRC/infection-control.md" -f markdown -t docx -o "$OUT/infection-control.docx"

if command -v pdftotext >/dev/null; then
  echo "staff-handbook.pdf: $(pdfinfo "$OUT/staff-handbook.pdf" | awk '/^Pages:/ {print $2}') pages," \
       "$(pdftotext "$OUT/staff-handbook.pdf" - | wc -c) characters of text"
fi
echo "infection-control.docx: $(stat -c %s "$OUT/infection-control.docx") bytes"
