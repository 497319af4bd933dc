#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Every command's --help, its manual page and its bash, zsh and fish
# completion name the same options (both ways), the pages pass groff's and
# mandoc's checks, libmgcall(3) names every exported function and its example
# compiles.  Pages: docs/mgcall.1 (the tool, token, the shared authentication
# options), mgcall-keep-alive.1, mgcall-keeper.8, mgcall-emulator.1,
# libmgcall.3.  Completion: dist/mgcall.bash-completion, dist/_mgcall,
# dist/mgcall.fish.  A command that gains an option fails here until its page
# and the three completions have it.
. "$(dirname "$0")/lib.sh"
: "${MGCALL_SOURCE_DIR:?}" "${MGCALL_BUILD_DIR:?}"
D=$MGCALL_SOURCE_DIR/docs
BASH_COMP=$MGCALL_SOURCE_DIR/dist/mgcall.bash-completion
ZSH_COMP=$MGCALL_SOURCE_DIR/dist/_mgcall
FISH_COMP=$MGCALL_SOURCE_DIR/dist/mgcall.fish

# Options a --help text defines: lines "  -x, --opt ARG   text" (two spaces,
# then the option; continuation lines are indented further).  With "own",
# the authentication/endpoints block is left out; with "auth", only it.
help_opts() { # which(all|own|auth) command...
  local which=$1
  shift
  "$MGCALL" "$@" --help 2>&1 |
    awk -v w="$which" '/^authentication/ {a = 1} a && /^$/ {a = 0}
      (w == "all") || (w == "own" && !a) || (w == "auth" && a)' |
    sed -nE 's/^  (-[^ -]|--[a-z])/&/p' | sed -E 's/^  //; s/  .*//' |
    grep -oE -- '(^|[ ,])--?[a-zA-Z][a-zA-Z0-9-]*' | sed -E 's/^[ ,]//' | sort -u
}
# Options a page defines between two section headings: the lines right after
# .TP/.TQ (the tag of each entry).
page_opts() { # page start-regex end-regex
  sed -n "/$2/,/$3/p" "$1" | awk 'prev ~ /^\.(TP|TQ)$/ {print} {prev = $0}' |
    sed -E 's/\\f[BIRP]//g; s/\\-/-/g' |
    grep -oE -- '(^|[ ,"])--?[a-zA-Z][a-zA-Z0-9-]*' | sed -E 's/^[ ,"]//' | sort -u
}
longs() { grep -E -- '^--' | sort -u; }
longs_and_words() { grep -vE -- '^-[^-]' | sort -u; }
# Compare two sorted lists; name what each lacks.
same() { # name list-a label-a list-b label-b
  local only_a only_b
  only_a=$(comm -23 <(printf '%s\n' "$2" | sed '/^$/d') <(printf '%s\n' "$4" | sed '/^$/d') | tr '\n' ' ')
  only_b=$(comm -13 <(printf '%s\n' "$2" | sed '/^$/d') <(printf '%s\n' "$4" | sed '/^$/d') | tr '\n' ' ')
  if [ -z "$2" ]; then
    t_fail "$1: $3 names no option"
  elif [ -z "$only_a$only_b" ]; then
    t_pass "$1"
  else
    t_fail "$1: only in $3: [${only_a% }]; only in $5: [${only_b% }]"
  fi
}

# --- the pages are well-formed roff ---
for page in mgcall.1 mgcall-keep-alive.1 mgcall-keeper.8 mgcall-emulator.1 libmgcall.3; do
  f=$D/$page
  t_ok '[ -f "$f" ]' "$page exists"
  t_eq "$(groff -man -Tutf8 -ww -z "$f" 2>&1)" "" "$page: groff -ww reports nothing"
  t_eq "$(mandoc -T lint -W warning "$f" 2>&1)" "" "$page: mandoc -T lint reports nothing"
  t_eq "$(LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -l "$f" 2>&1 >/dev/null)" "" \
    "$page: man --warnings reports nothing"
  name=${page%.*}
  th=$(sed -nE 's/^\.TH ([^ ]+) ([0-9]) .*/\1 \2/p' "$f" | sed 's/\\-/-/g')
  t_eq "$th" "$(tr a-z A-Z <<<"$name") ${page##*.}" "$page: .TH names it"
done

# --- shared authentication and endpoint options: token --help = mgcall(1) ---
AUTH=$(help_opts auth token)
same "auth options: token --help = mgcall(1) AUTHENTICATION" "$AUTH" "--help" \
  "$(page_opts "$D/mgcall.1" '^\.SH AUTHENTICATION' '^\.SH EXIT STATUS')" "mgcall(1)"
for cmd in keep-alive "keeper run"; do
  # shellcheck disable=SC2086
  same "auth options: $cmd --help = token --help" "$(help_opts auth $cmd)" "$cmd" \
    "$AUTH" "token"
done

# --- mgcall(1): the commands, --version, --help; token's own options ---
"$MGCALL" --help >"$T/top" 2>&1
cmds=$(sed -nE '/^commands:/,/^$/ s/^  ([a-z-]+) .*/\1/p' "$T/top" | sort -u)
same "mgcall --help commands = mgcall(1) COMMANDS" "$cmds" "--help" \
  "$(sed -n '/^\.SH COMMANDS/,/^\.SH /p' "$D/mgcall.1" |
    awk 'prev ~ /^\.TP$/ && $1 ~ /^\.BI?$/ && $2 !~ /^\\-/ {print $2} {prev = $0}' |
    sort -u)" "mgcall(1)"
same "mgcall itself: --help = mgcall(1)" "$(grep -oE -- '--[a-z]+' "$T/top" | sort -u)" \
  "--help" "$(page_opts "$D/mgcall.1" '^\.SH COMMANDS' '^\.SH TOKEN' | longs)" "mgcall(1)"
same "token: --help = mgcall(1) TOKEN" "$(help_opts own token)" "--help" \
  "$(page_opts "$D/mgcall.1" '^\.SH TOKEN' '^\.SH AUTHENTICATION')" "mgcall(1)"

# --- mgcall-keep-alive(1) ---
same "keep-alive: --help = mgcall-keep-alive(1)" "$(help_opts own keep-alive)" "--help" \
  "$(page_opts "$D/mgcall-keep-alive.1" '^\.SH OPTIONS' '^\.SH EXIT STATUS')" "the page"

# --- mgcall-keeper(8): run, then the client commands ---
"$MGCALL" keeper --help >"$T/keeper" 2>&1
subs=$(sed -nE 's/^(usage:|      ) mgcall keeper ([a-z]+) .*/\2/p' "$T/keeper" | sort -u)
t_ok 'grep -qx run <<<"$subs"' "keeper --help lists run"
same "keeper: --help commands = mgcall-keeper(8) COMMANDS" "$subs" "--help" \
  "$(sed -n '/^\.SH COMMANDS/,/^\.SH OPTIONS/p' "$D/mgcall-keeper.8" |
    awk 'prev ~ /^\.TP$/ {print $2} {prev = $0}' | sort -u)" "the page"
same "keeper run: --help = mgcall-keeper(8) OPTIONS" "$(help_opts own keeper run)" \
  "--help" "$(page_opts "$D/mgcall-keeper.8" '^\.SH OPTIONS' '^\.SS Client options')" \
  "the page"
client_help=$(for s in $subs; do [ "$s" = run ] || help_opts all keeper "$s"; done | sort -u)
same "keeper clients: --help = mgcall-keeper(8) Client options" "$client_help" "--help" \
  "$(page_opts "$D/mgcall-keeper.8" '^\.SS Client options' '^\.SH ')" "the page"

# --- mgcall-emulator(1) ---
same "emulator: --help = mgcall-emulator(1)" "$(help_opts own emulator)" "--help" \
  "$(page_opts "$D/mgcall-emulator.1" '^\.SH OPTIONS' '^\.SH RUN-TIME FAULTS')" "the page"

# --- every page: EXIT STATUS and SEE ALSO ---
for page in mgcall.1 mgcall-keep-alive.1 mgcall-keeper.8 mgcall-emulator.1; do
  t_grep "$D/$page" '^\.SH EXIT STATUS$' "$page has EXIT STATUS"
  t_grep "$D/$page" '^\.SH SEE ALSO$' "$page has SEE ALSO"
done
for section in OPTIONS SIGNALS FILES ENVIRONMENT "STORE AND FLEET"; do
  t_grep "$D/mgcall-keeper.8" "^\.SH $section\$" "mgcall-keeper(8) has $section"
done

# --- libmgcall(3): every exported function, and the example compiles ---
so=$(find "$MGCALL_BUILD_DIR/lib" -maxdepth 1 -name 'libmgcall.so' | head -n 1)
t_ok '[ -n "$so" ]' "libmgcall.so built"
exported=$(nm -D --defined-only "$so" | awk '$2 == "T" {print $3}' | sed 's/@.*//' | sort -u)
macros=$(sed -nE 's/^#define (mgcall_[a-z_]+)\(.*/\1/p' \
  "$MGCALL_SOURCE_DIR/include/mgcall/mgcall.h" | sort -u)
named=$(sed -n '/^\.SH FUNCTIONS/,/^\.SH EXAMPLES/p' "$D/libmgcall.3" |
  awk 'prev ~ /^\.(TP|TQ)$/ {print} {prev = $0}' |
  grep -oE 'mgcall_[a-z0-9_]+\(' | tr -d '(' | sort -u)
same "libmgcall(3) names every exported function and macro" \
  "$(printf '%s\n%s\n' "$exported" "$macros" | sort -u)" "libmgcall.so + macros" \
  "$named" "the page"
sed -n '/^\.SH EXAMPLES/,/^\.SH /p' "$D/libmgcall.3" | sed -n '/^\.nf$/,/^\.fi$/p' |
  sed '1d;$d' | sed 's/\\e/\\/g' >"$T/example.c"
t_grep "$T/example.c" 'mgcall_keep_alive\(' "example extracted from libmgcall(3)"
# shellcheck disable=SC2086
t_expect_exit 0 "libmgcall(3) example compiles and links" -- \
  cc -std=c11 -Wall -Wextra -Werror ${MGCALL_TEST_CFLAGS:-} \
  -I"$MGCALL_SOURCE_DIR/include" "$T/example.c" -o "$T/example" \
  -L"$(dirname "$so")" -lmgcall
t_expect_exit 2 "libmgcall(3) example: usage without an id" -- \
  env LD_LIBRARY_PATH="$(dirname "$so")" "$T/example"

# --- completion: bash, zsh and fish offer what --help lists ---
t_expect_exit 0 "bash -n $(basename "$BASH_COMP")" -- bash -n "$BASH_COMP"
t_expect_exit 0 "zsh -n $(basename "$ZSH_COMP")" -- zsh -n "$ZSH_COMP"
t_expect_exit 0 "fish -n $(basename "$FISH_COMP")" -- fish -n "$FISH_COMP"

# bash: run the completion function on a command line, print COMPREPLY.
bash_complete() { # words...
  bash -c '. "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
    COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}; _mgcall; printf "%s\n" "${COMPREPLY[@]}"' \
    _ "$BASH_COMP" "$@" | sort -u
}
fish_complete() { # command line
  fish -c "source '$FISH_COMP'; complete -C '$1'" | cut -f1 | sort -u
}
# zsh: type the command line and a TAB into an interactive zsh with _mgcall
# in its fpath, print what it offers (tests/system/zsh_complete.zsh).
mkdir -p "$T/zfp"
cp "$ZSH_COMP" "$T/zfp/_mgcall"
zsh_complete() { # command line
  : >"$T/zout"
  timeout 30 zsh -f "$MGCALL_SOURCE_DIR/tests/system/zsh_complete.zsh" "$T/zfp" "$1" \
    "$T/zout" >/dev/null 2>&1 || echo "zsh_complete '$1' failed" >&2
  sed '/^$/d' "$T/zout" | sort -u
}

# What completion offers = what --help lists (plus --help itself).
top=$(printf '%s\n' $cmds --help --version | sort -u)
same "bash: mgcall <TAB>" "$top" "--help" "$(bash_complete mgcall '')" "completion"
same "fish: mgcall <TAB>" "$top" "--help" \
  "$( (fish_complete 'mgcall '; fish_complete 'mgcall --') | sort -u)" "completion"
same "zsh: mgcall <TAB>" "$top" "--help" "$(zsh_complete 'mgcall ' | longs_and_words)" \
  "completion"
for cmd in keep-alive token emulator; do
  want=$(printf '%s\n' $(help_opts all "$cmd" | longs) --help | sort -u)
  same "bash: mgcall $cmd --<TAB>" "$want" "--help" \
    "$(bash_complete mgcall "$cmd" --)" "completion"
  same "fish: mgcall $cmd --<TAB>" "$want" "--help" \
    "$(fish_complete "mgcall $cmd --")" "completion"
  same "zsh: mgcall $cmd --<TAB>" "$want" "--help" \
    "$(zsh_complete "mgcall $cmd --")" "completion"
done
same "bash: mgcall keeper <TAB>" "$(printf '%s\n' $subs --help | sort -u)" "--help" \
  "$(bash_complete mgcall keeper '')" "completion"
same "fish: mgcall keeper <TAB>" "$subs" "--help" \
  "$(fish_complete 'mgcall keeper ')" "completion"
same "zsh: mgcall keeper <TAB>" "$subs" "--help" "$(zsh_complete 'mgcall keeper ')" \
  "completion"
for s in $subs; do
  want=$(printf '%s\n' $(help_opts all keeper "$s" | longs) --help | sort -u)
  same "bash: mgcall keeper $s --<TAB>" "$want" "--help" \
    "$(bash_complete mgcall keeper "$s" --)" "completion"
  same "fish: mgcall keeper $s --<TAB>" "$want" "--help" \
    "$(fish_complete "mgcall keeper $s --")" "completion"
  same "zsh: mgcall keeper $s --<TAB>" "$want" "--help" \
    "$(zsh_complete "mgcall keeper $s --")" "completion"
done
t_done
