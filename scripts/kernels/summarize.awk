# Reduces the VM's serial output to what go test prints without -v: a failing test's
# output in full, a skipped test with its reason, one ok/FAIL line per package; other
# lines (the smoke run, kernel messages) pass through. Every line gets the prefix k.
# Exits 0 only when the VM reported "== netctl-vm exit 0" and no package failed.
function out(s) { print k s; fflush() }
/^== netctl-vm test / { intest = 1; buf = ""; out($0); next }
intest && /^(ok  |FAIL)\t/ {
  if ($0 ~ /^FAIL/) { failed = 1; if (buf != "") out(buf) }
  intest = 0; buf = ""; out($0); next
}
intest && /^=== (RUN|CONT|NAME|PAUSE)/ { buf = ""; next }
intest && /^ *--- PASS/ { buf = ""; next }
intest && /^ *--- (SKIP|FAIL)/ {
  out($0); if (buf != "") out(buf); buf = ""; next
}
intest && /^(PASS|FAIL)$/ { next }
intest { buf = buf == "" ? $0 : buf "\n" k $0; next }
/^== netctl-vm exit / { code = $4; seen = 1 }
{ out($0) }
END {
  if (!seen) { out("== no exit line from the VM: it crashed or was stopped"); exit 1 }
  exit (failed || code != 0) ? 1 : 0
}
