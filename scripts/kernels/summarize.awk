# Reduces the VM's serial output to what go test prints without -v: a failing test's
# output in full, a skipped test with its reason, one ok/FAIL line per package; other
# lines (the smoke run, kernel messages) pass through. Every line gets the prefix k.
# Writes "MODE PASSED FAILED SKIPPED" (tests and subtests) to the file stats, and exits 0
# only when the VM reported "== netctl-vm exit 0" and no package failed.
function out(s) { print k s; fflush() }
/^== netctl-vm test / { intest = 1; buf = ""; pkgfails = failed; out($0); next }
intest && /^(ok  |FAIL)\t/ {
  if ($0 ~ /^FAIL/) {
    failedpkg = 1
    if (failed == pkgfails) failed++ # a panic or a timeout: no test said FAIL
    if (buf != "") out(buf)
  }
  intest = 0; buf = ""; out($0); next
}
intest && /^=== (RUN|CONT|NAME|PAUSE)/ { buf = ""; next }
intest && /^ *--- PASS/ { passed++; buf = ""; next }
intest && /^ *--- (SKIP|FAIL)/ {
  if ($0 ~ /--- SKIP/) skipped++; else failed++
  out($0); if (buf != "") out(buf); buf = ""; next
}
intest && /^(PASS|FAIL)$/ { next }
intest { buf = buf == "" ? $0 : buf "\n" k $0; next }
/^== netctl-vm attach mode: / { mode = $5 }
/^== netctl-vm exit / { code = $4; seen = 1 }
{ out($0) }
END {
  if (!seen) { out("== no exit line from the VM: it crashed or was stopped"); failed++ }
  printf "%s %d %d %d\n", (mode == "" ? "-" : mode), passed, failed, skipped >stats
  exit (!seen || failedpkg || code != 0) ? 1 : 0
}
