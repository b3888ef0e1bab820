#!/bin/bash
# Download the pinned real-world wheels of a list (name==version a line; default: dev-wheels.txt
# beside this script) for CPython 3.11 on x86-64 Linux into DIR (default: ./target/corpus).
#   xtask/corpus/fetch.sh [DIR] [LIST]
set -euo pipefail
case "${1:-}" in
  -h | --help) sed -n '2,4s/^# \{0,1\}//p' "$0"; exit 0 ;;
  -*) echo "fetch.sh: unknown option $1 (usage: xtask/corpus/fetch.sh [DIR] [LIST])" >&2; exit 2 ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-target/corpus}
list=${2:-$here/dev-wheels.txt}
mkdir -p "$dir"
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.11 --implementation cp --abi cp311 \
  --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_28_x86_64 \
  --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_26_x86_64 \
  --platform manylinux1_x86_64 --platform manylinux_2_5_x86_64 --platform any -d "$dir" -r "$list"
echo "$(ls "$dir"/*.whl | wc -l) wheels in $dir"
