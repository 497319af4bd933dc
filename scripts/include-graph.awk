# SPDX-License-Identifier: MIT
# include-graph.awk - the functions scripts/check-src-includes and
# scripts/check-lib-includes share: read the #include lines of a file and
# find the file an include names, as the compiler does (the includer's own
# directory first for "...", then the include directories in order).
# POSIX awk (mawk, gawk, busybox); the scripts put this text in front of
# their own program.  Paths are used as given, normalised (no "." or "..").

# The #include lines of file: for i = 1..n (returned), names[i] is what it
# names, lines[i] its line number and kinds[i] "\"" or "<".
function incs(file, names, lines, kinds,    n, ln, line, q, i, rest) {
  n = 0
  ln = 0
  while ((getline line < file) > 0) {
    ln++
    if (line !~ /^[ \t]*#[ \t]*include[ \t]*["<]/)
      continue
    sub(/^[ \t]*#[ \t]*include[ \t]*/, "", line)
    q = substr(line, 1, 1)
    rest = substr(line, 2)
    i = index(rest, q == "<" ? ">" : "\"")
    if (!i)
      continue
    n++
    names[n] = substr(rest, 1, i - 1)
    lines[n] = ln
    kinds[n] = q
  }
  close(file)
  return n
}

# 1 when path can be read.
function exists(path,    x, r) {
  r = (getline x < path)
  close(path)
  return r >= 0
}

function dirname(p) {
  if (p !~ /\//)
    return "."
  sub(/\/[^\/]*$/, "", p)
  return p
}

# p without "." and "name/.." steps.
function norm(p,    parts, out, n, i, k, r) {
  n = split(p, parts, "/")
  k = 0
  for (i = 1; i <= n; i++) {
    if (parts[i] == "." || (parts[i] == "" && i > 1))
      continue
    if (parts[i] == ".." && k > 0 && out[k] != ".." && out[k] != "") {
      k--
      continue
    }
    out[++k] = parts[i]
  }
  r = out[1]
  for (i = 2; i <= k; i++)
    r = r "/" out[i]
  return r
}

# The file an include of `from` names (kind "\"" or "<"), looked for in
# from's directory (quoted only) and then in the directories of dirs (one a
# line); "" when none has it (a system header).
function resolve(name, kind, from, dirs,    d, n, i, p) {
  if (kind == "\"" && exists(p = dirname(from) "/" name))
    return norm(p)
  n = split(dirs, d, "\n")
  for (i = 1; i <= n; i++)
    if (d[i] != "" && exists(p = d[i] "/" name))
      return norm(p)
  return ""
}

# p relative to the directory top (itself when outside it).
function rel(p, top) {
  return index(p, top "/") == 1 ? substr(p, length(top) + 2) : p
}
