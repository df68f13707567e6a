#!/usr/bin/env bash
# Checks that every relative Markdown link in README.md, CONTRIBUTING.md, docs/*.md, docs/adr/*.md,
# services/*/README.md and deploy/k8s/README.md points at a file (or directory) of this repository, and that a #fragment matches a heading of the target (GitHub's heading ids).
# Links to other sites (http:, https:, mailto:) are not checked. Exit status 1 when a link is broken.
#   scripts/check-doc-links.sh             the default files
#   scripts/check-doc-links.sh FILE...     these files
set -euo pipefail
cd "$(dirname "$0")/.."
root="$(pwd -P)"

# GitHub's heading id: lower case, punctuation other than - and _ removed, spaces to -.
slug() { printf '%s' "$1" | tr '[:upper:]' '[:lower:]' | sed -E 's/[^[:alnum:] _-]//g; s/ /-/g'; }

anchors() { # the heading ids of a Markdown file, outside fenced code blocks
  awk '/^```/ { code = !code; next } !code && /^#+ / { sub(/^#+ +/, ""); sub(/ +#* *$/, ""); print }' "$1" |
    while IFS= read -r heading; do
      # Code spans and link brackets in headings keep their text only.
      heading="$(printf '%s' "$heading" | sed -E 's/`//g; s/\[([^]]*)\]\([^)]*\)/\1/g')"
      slug "$heading"; echo
    done
}

if [ $# -gt 0 ]; then files=("$@"); else
  files=(README.md)
  for f in CONTRIBUTING.md docs/*.md docs/adr/*.md services/*/README.md deploy/k8s/README.md; do [ -e "$f" ] && files+=("$f"); done
fi

broken=0 checked=0
for file in "${files[@]}"; do
  dir="$(dirname "$file")"
  # Inline links [text](target) and reference definitions [name]: target, outside fenced code blocks.
  while IFS=$'\t' read -r line target; do
    target="${target%% *}"            # drop a "title"
    target="${target#<}"; target="${target%>}"
    case "$target" in ''|http:*|https:*|mailto:*) continue ;; esac
    checked=$((checked + 1))
    path="${target%%#*}"; fragment=""
    [[ "$target" == *#* ]] && fragment="${target#*#}"
    path="${path%%\?*}"
    if [ -z "$path" ]; then resolved="$file"; else resolved="$dir/$path"; fi
    if [ ! -e "$resolved" ]; then
      echo "$file:$line: $target: no such file ($resolved)"; broken=$((broken + 1)); continue
    fi
    case "$(cd "$(dirname "$resolved")" && pwd -P)/" in
      "$root"/*) ;;
      *) echo "$file:$line: $target: outside the repository"; broken=$((broken + 1)); continue ;;
    esac
    if [ -n "$fragment" ] && [ -f "$resolved" ] && [[ "$resolved" == *.md ]]; then
      # Read whole first: grep -q stopping early would fail the pipe under pipefail.
      ids="$(anchors "$resolved")"
      if ! grep -qxF -- "$fragment" <<<"$ids"; then
        echo "$file:$line: $target: no heading #$fragment in $resolved"; broken=$((broken + 1))
      fi
    fi
  done < <(awk '/^```/ { code = !code; next } !code { print NR "\t" $0 }' "$file" |
           while IFS=$'\t' read -r n text; do
             printf '%s\n' "$text" | grep -oE '\]\([^)]+\)' | sed -E "s/^\]\((.*)\)$/$n\t\1/" || true
             printf '%s\n' "$text" | grep -oE '^\[[^]]+\]: +[^ ]+' | sed -E "s/^\[[^]]+\]: +/$n\t/" || true
           done)
done

echo "checked $checked relative links in ${#files[@]} files; $broken broken"
[ "$broken" -eq 0 ]
