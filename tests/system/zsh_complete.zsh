# SPDX-License-Identifier: MIT
# zsh -f zsh_complete.zsh FPATH_DIR 'command line' OUT_FILE
# Types the command line and a TAB into an interactive zsh (on a pseudo
# terminal) whose fpath starts with FPATH_DIR, and appends every completion
# candidate it offers to OUT_FILE, one a line (t_manpages.sh).  Each step
# waits for the shell's own output; the caller bounds the whole run.  The
# keys are typed only once the line editor runs (zle-line-init has printed
# its mark): typed earlier, the terminal's line discipline would still be in
# cooked mode and take the ^U, the TAB would never reach the completion.
zmodload zsh/zpty || exit 1
zpty z zsh -f -i
zpty -w z "PROMPT= ; fpath=($1 \$fpath); autoload -Uz compinit; compinit -u -D"
zpty -w z 'compadd () { builtin compadd -O __hits "$@"; print -r -l -- ${__hits[@]} >>'"${(q)3}"'; builtin compadd "$@" }'
zpty -w z 'bindkey "^I" complete-word'
zpty -w z 'zle-line-init() { print -rn -- ZLE-$((6*7)) }; zle -N zle-line-init'
zpty -w z 'print -r -- READY-$((6*7))'
zpty -r z line '*READY-42*' || exit 1
zpty -r z line '*ZLE-42*' || exit 1
zpty -w -n z "$2"$'\t'
zpty -w -n z $'\C-u'
zpty -w z 'print -r -- DONE-$((6*7))'
zpty -r z line '*DONE-42*' || exit 1
zpty -d z
