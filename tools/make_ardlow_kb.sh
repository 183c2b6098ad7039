#!/usr/bin/env bash
# make_ardlow_kb.sh - build the generated documents of the Ardlow Dairy Systems
# sample set (fictional company, Wendmere County Show kiosk).
#
# Builds, from the hand-written flat-ODT sources in samples/ardlow-src/:
#   samples/ardlow-src/product-brochure.fodt  -> samples/ardlow/product-brochure.pdf
#   samples/ardlow-src/price-list-2026.fodt   -> samples/ardlow/price-list-2026.docx
# with LibreOffice Writer in headless mode. The other files in samples/ardlow/
# (.txt, .md, .html, .csv) are written by hand and are not generated.
#
# Needs (Debian/Ubuntu): libreoffice-writer-nogui (soffice), fonts-dejavu
# (the sources ask for DejaVu Sans; another font changes line breaks and
# page count). Optional for checking: poppler-utils (pdftotext), pandoc.
#
#   apt-get update && apt-get install -y libreoffice-writer-nogui fonts-dejavu poppler-utils
#
# Usage: tools/make_ardlow_kb.sh            (from anywhere inside the repo)
#
# Reproducibility: SOURCE_DATE_EPOCH is set, but the outputs do NOT rebuild
# byte for byte: LibreOffice writes a fresh document ID and creation time into
# the PDF and zip timestamps / rsids into the DOCX. The extracted text
# (pdftotext, pandoc -t plain) is the same from build to build with the same
# LibreOffice version and fonts.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
src="$here/samples/ardlow-src"
out="$here/samples/ardlow"
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-1780272000}"   # 2026-06-01 00:00 UTC

command -v soffice >/dev/null || { echo "soffice not found: apt-get install -y libreoffice-writer-nogui" >&2; exit 1; }

# A private LibreOffice profile so a running office or a user profile does not interfere.
profile="$(mktemp -d)"
tmp="$(mktemp -d)"
trap 'rm -rf "$profile" "$tmp"' EXIT
lo=(soffice -env:UserInstallation="file://$profile" --headless --norestore)

mkdir -p "$out"
"${lo[@]}" --convert-to pdf --outdir "$tmp" "$src/product-brochure.fodt" >/dev/null
"${lo[@]}" --convert-to docx --outdir "$tmp" "$src/price-list-2026.fodt" >/dev/null

for f in product-brochure.pdf price-list-2026.docx; do
    [ -s "$tmp/$f" ] || { echo "conversion failed: $f" >&2; exit 1; }
    mv "$tmp/$f" "$out/$f"
    echo "built $out/$f ($(wc -c <"$out/$f") bytes)"
done

if command -v pdfinfo >/dev/null; then
    pdfinfo "$out/product-brochure.pdf" | grep -E '^(Pages|Producer):'
fi
