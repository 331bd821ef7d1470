# Shared by the bench scripts (sourced, from the repository's root).

# The machine, as BENCHMARKS.md names it under each table; with `fs`, also
# the filesystem the ledger benchmarks write to.
machine() {
  local m
  m="$(nproc) cores, $(awk '/model name/ {sub(/.*: /, ""); print; exit}' /proc/cpuinfo)"
  if [ "${1:-}" = fs ]; then
    m="$m, $(df -T . | awk 'NR==2 {print $2}') filesystem"
  fi
  echo "$m"
}

# write_block NAME TEXT: replaces what stands between <!-- NAME:begin -->
# and <!-- NAME:end --> in BENCHMARKS.md with TEXT; fails if the markers
# are missing.
write_block() {
  python3 - "$1" "$2" <<'PY' || return 1
import re, sys
name, block = sys.argv[1], sys.argv[2]
path = "BENCHMARKS.md"
text = open(path, encoding="utf-8").read()
start, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
assert start in text and end in text, f"BENCHMARKS.md has no {start} … {end}"
text = re.sub(re.escape(start) + ".*?" + re.escape(end), lambda _: f"{start}\n{block}\n{end}", text, flags=re.S)
open(path, "w", encoding="utf-8").write(text)
PY
  echo "BENCHMARKS.md updated ($1)"
}

# trafilatura_venv: Python trafilatura from PyPI in a temporary virtual
# environment ($work, removed on exit); sets $work, $traf_python and
# $traf_version, and builds extract-eval ($eval_bin).
trafilatura_venv() {
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  python3 -m venv "$work/venv"
  "$work/venv/bin/pip" install --quiet --disable-pip-version-check trafilatura lxml_html_clean
  traf_python="$work/venv/bin/python"
  traf_version=$("$traf_python" -c 'import trafilatura; print(trafilatura.__version__)')
  cargo build --release --quiet --bin extract-eval
  eval_bin=target/release/extract-eval
}
