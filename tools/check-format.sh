#!/bin/sh
# The C sources as .clang-format has them; `make test` runs this as the
# ctest "format". Fix a file with `clang-format -i FILE`.
set -eu
cd "$(dirname "$0")/.."
if ! command -v clang-format >/dev/null 2>&1; then
  echo "format: clang-format is not installed (tools/deps.sh test installs it)" >&2
  exit 1
fi
if ! git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  echo "format: skipped: not a git checkout (the file list is git's)"
  exit 0
fi
bad=""
n=0
for f in $(git ls-files '*.c' '*.h'); do
  n=$((n + 1))
  clang-format --dry-run -Werror "$f" >/dev/null 2>&1 || bad="$bad $f"
done
if [ -n "$bad" ]; then
  echo "format: not as .clang-format has them (clang-format -i FILE):$bad" >&2
  exit 1
fi
echo "format: $n files as .clang-format has them"
