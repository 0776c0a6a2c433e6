#!/bin/sh
# Runs every case of cases.txt through the simulate binary ($1): the exit code must
# match, stderr must contain the expected text, and each run must end within 5 s.
# Prints "N passed, M failed".
sim="$1"
dir=$(cd "$(dirname "$0")" && pwd)
pass=0; fail=0
while IFS='|' read -r code cfg expect extra; do
  case "$code" in ''|'#'*) continue ;; esac
  # shellcheck disable=SC2086
  err=$(cd "$dir" && timeout 5 "$sim" --config "$cfg" $extra 2>&1 >/dev/null)
  rc=$?
  if [ "$rc" = "$code" ] && printf '%s' "$err" | grep -qF -- "$expect"; then
    pass=$((pass + 1))
  else
    fail=$((fail + 1))
    echo "FAIL: $cfg $extra: exit $rc (want $code); stderr: $err"
    echo "      expected to contain: $expect"
  fi
done < "$dir/cases.txt"
echo "bad inputs: $pass passed, $fail failed"
[ "$fail" = 0 ]
