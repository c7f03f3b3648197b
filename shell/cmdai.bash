# cmdai shell integration for bash (4.4 or newer; 5.x recommended).
# Printed by `cmdai init bash` with absolute paths filled in; load it from ~/.bashrc with
#   eval "$(cmdai init bash)"
# It records every executed command by appending one line to a per-session spool file
# (pure shell: no process is started per command). Set CMDAI_NOBIND=1 before loading it to
# keep every key binding as it is.

[[ $- == *i* ]] || return 0

__cmdai_python=@CMDAI_PYTHON@
__cmdai_spool=@CMDAI_SPOOL@
__cmdai_up_arrow=@CMDAI_UP_ARROW@
__cmdai_ctrl_r=@CMDAI_CTRL_R@
__cmdai_client=@CMDAI_CLIENT@
__cmdai_key=@CMDAI_KEY@

# Loading the script again keeps the session and adds no second hook.
if [[ -z ${__cmdai_session-} ]]; then
  __cmdai_session="${EPOCHSECONDS:-$SECONDS}.$$.${RANDOM}"
fi
export CMDAI_SESSION=$__cmdai_session
__cmdai_file="${__cmdai_spool}/${HOSTNAME:-localhost}-${__cmdai_session}.tsv"
# Scratch file for reading bash's last history line without a fork (see below). It lives on a
# tmpfs: truncating a file on ext4 on every command costs ~2.5 ms, on tmpfs ~0.04 ms.
if [[ -d /dev/shm && -w /dev/shm ]]; then  # Linux: always a tmpfs
  __cmdai_scratch=/dev/shm/cmdai-$UID
  [[ -d $__cmdai_scratch ]] || command mkdir -m 700 -- "$__cmdai_scratch" 2>/dev/null
  [[ -d $__cmdai_scratch && -O $__cmdai_scratch && ! -L $__cmdai_scratch ]] || __cmdai_scratch=$__cmdai_spool
elif [[ -n ${XDG_RUNTIME_DIR-} && -d $XDG_RUNTIME_DIR && -O $XDG_RUNTIME_DIR ]]; then
  __cmdai_scratch=$XDG_RUNTIME_DIR
else
  __cmdai_scratch=$__cmdai_spool
fi
__cmdai_tmp="${__cmdai_scratch}/.cmdai-${__cmdai_session}.line"
: "${__cmdai_armed=}" "${__cmdai_start=}" "${__cmdai_last_histno=}"  # a reload keeps them

# HISTCONTROL=ignorespace/ignoreboth keeps a space-prefixed line out of bash's history, and
# `history 1` would then return the previous command (pitfall 7). So bash is told to keep every
# line, and the hook itself drops space-prefixed lines (from bash's history too, with
# `history -d`), which is what the user asked for.
if [[ ${HISTCONTROL-} == *ignorespace* || ${HISTCONTROL-} == *ignoreboth* ]]; then
  __cmdai_ignorespace=1
  HISTCONTROL=${HISTCONTROL//ignoreboth/ignoredups}
  HISTCONTROL=${HISTCONTROL//ignorespace/}
fi

__cmdai_now() {
  # microseconds since the epoch, without starting a process (bash >= 5 has EPOCHREALTIME)
  if [[ -n ${EPOCHREALTIME-} ]]; then
    __cmdai_t=${EPOCHREALTIME/[.,]/}
  else
    __cmdai_t=$(( ${EPOCHSECONDS:-0} * 1000000 ))
  fi
}

# The last history entry as "number<TAB>text", read through a file: a builtin writing to a
# file and `read` cost no fork, where $(history 1) forks a subshell on every command.
__cmdai_history_last() {
  local HISTTIMEFORMAT=
  builtin history 1 >| "$__cmdai_tmp" 2>/dev/null || return 1
  local line
  IFS= read -r -d '' line < "$__cmdai_tmp"
  line=${line%$'\n'}
  # "  123  text" (a '*' after the number marks an edited entry); parameter expansion is
  # cheaper than a regex here
  line=${line#"${line%%[! ]*}"}
  __cmdai_histno=${line%%[!0-9]*}
  [[ -n $__cmdai_histno ]] || return 1
  line=${line#"$__cmdai_histno"}
  line=${line#\*}
  __cmdai_histline=${line:2}
}

__cmdai_in_prompt_command() {
  local part parts
  IFS=$'\n;' read -r -d '' -a parts <<< "${PROMPT_COMMAND[*]}"
  for part in "${parts[@]}"; do
    part=${part#"${part%%[![:space:]]*}"}; part=${part%"${part##*[![:space:]]}"}
    [[ $part == "$BASH_COMMAND" ]] && return 0
  done
  return 1
}

__cmdai_preexec() {
  # Runs from the DEBUG trap before the first command of each line typed at the prompt.
  [[ -n ${COMP_LINE-} || -n ${READLINE_POINT-} ]] && return 0  # completion, bind -x widgets
  __cmdai_armed=
  [[ -d $__cmdai_spool ]] || command mkdir -p -m 700 -- "$__cmdai_spool" 2>/dev/null
  __cmdai_history_last || return 0
  if [[ $__cmdai_histno == "$__cmdai_last_histno" ]]; then
    # bash added nothing: an ignored duplicate repeats the last line (an erased one moves it
    # to the end under the same number), an empty Enter runs PROMPT_COMMAND, anything else
    # (HISTIGNORE, history off) is not ours to record
    [[ ( ${HISTCONTROL-} == *ignoredups* || ${HISTCONTROL-} == *erasedups* ) &&
       -z ${HISTIGNORE-} ]] || return 0
    __cmdai_in_prompt_command && return 0
  fi
  __cmdai_last_histno=$__cmdai_histno
  if [[ $__cmdai_histline == [[:space:]]* ]]; then
    # bash gives the deleted entry's number to the next one: remember the one before, or
    # the next command would look like "bash added nothing" and go unrecorded
    [[ -n ${__cmdai_ignorespace-} ]] && builtin history -d "$__cmdai_histno" 2>/dev/null &&
      __cmdai_last_histno=$((__cmdai_histno - 1))
    return 0
  fi
  __cmdai_cmd=$__cmdai_histline
  __cmdai_cwd=$PWD
  __cmdai_now
  __cmdai_start=$__cmdai_t
}

__cmdai_precmd() {
  local st=$?
  [[ -n $__cmdai_start ]] || return 0
  __cmdai_now
  local dur=$(( (__cmdai_t - __cmdai_start) / 1000 ))
  local start="${__cmdai_start:0:${#__cmdai_start}-6}.${__cmdai_start: -6}"
  __cmdai_start=
  # `cmdai pause` (this session only): a flag file, tested without a process
  [[ -e ${__cmdai_spool}/.paused-${__cmdai_session} ]] && return 0
  local cmd=$__cmdai_cmd cwd=$__cmdai_cwd
  [[ -z ${cmd//[[:space:]]/} ]] && return 0
  # double-quoted replacements: bash 5.2's patsub_replacement would eat backslashes (pitfall 8)
  cmd=${cmd//\\/"\\\\"}; cmd=${cmd//$'\t'/"\\t"}; cmd=${cmd//$'\n'/"\\n"}; cmd=${cmd//$'\r'/"\\r"}
  cwd=${cwd//\\/"\\\\"}; cwd=${cwd//$'\t'/"\\t"}; cwd=${cwd//$'\n'/"\\n"}; cwd=${cwd//$'\r'/"\\r"}
  builtin printf 'v1\tbash\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$__cmdai_session" "$start" "$st" "$dur" "$cwd" "$cmd" >> "$__cmdai_file" 2>/dev/null
  return 0
}

__cmdai_debug_trap() {
  [[ -n $__cmdai_armed ]] || return 0
  __cmdai_preexec
}

__cmdai_arm() {
  # Ctrl-C inside a bind -x widget can leave these set, which would stop all recording
  # (pitfall 5).
  unset READLINE_LINE READLINE_POINT
  __cmdai_armed=1
}

if [[ -z ${__cmdai_hooked-} ]]; then
  __cmdai_hooked=1
  if [[ -n ${bash_preexec_imported-}${__bp_imported-} ]]; then
    # bash-preexec is loaded: hook in through it instead of owning the DEBUG trap
    __cmdai_bp_preexec() { __cmdai_preexec; }
    preexec_functions+=(__cmdai_bp_preexec)
    precmd_functions=(__cmdai_precmd "${precmd_functions[@]}")
  else
    __cmdai_prev_debug=$(trap -p DEBUG)
    __cmdai_prev_debug=${__cmdai_prev_debug#"trap -- '"}
    __cmdai_prev_debug=${__cmdai_prev_debug%"' DEBUG"}
    if [[ -n $__cmdai_prev_debug ]]; then
      trap '__cmdai_debug_trap; eval "$__cmdai_prev_debug"' DEBUG
    else
      trap '__cmdai_debug_trap' DEBUG
    fi
    if [[ $(declare -p PROMPT_COMMAND 2>/dev/null) == "declare -a"* ]]; then
      PROMPT_COMMAND=(__cmdai_precmd "${PROMPT_COMMAND[@]}" __cmdai_arm)
    else
      PROMPT_COMMAND="__cmdai_precmd${PROMPT_COMMAND:+;$PROMPT_COMMAND};__cmdai_arm"
    fi
  fi
fi

if __cmdai_history_last; then __cmdai_last_histno=$__cmdai_histno; fi

# Key bindings: the history picker (Up on an empty line, Ctrl-R) and Ctrl-G are bound here by
# the features that provide them; CMDAI_NOBIND, --disable-up-arrow and --disable-ctrl-r are
# honoured by each of them.

# --- Ctrl-G: natural language -> command (or an explanation of a command) ---
# The client draws its progress on /dev/tty and reads Ctrl-C/Esc itself with the terminal's
# signals off; on cancel the user's text is put back as typed. READLINE_POINT counts characters
# in bash 5.2 (pitfall 18).
__cmdai_ctrl_g() {
  local text=$READLINE_LINE
  if [[ -z ${text//[[:space:]]/} ]]; then
    builtin printf '\r\033[Kcmdai: type what you want (or a command to explain), then press Ctrl-G\n' >/dev/tty
    return 0
  fi
  local out
  out=$("$__cmdai_python" -I -S "$__cmdai_client" --progress --shell bash --cwd "$PWD" \
        --session "$__cmdai_session" -- "$text" </dev/null 2>/dev/null)
  local action=${out%%$'\n'*} rest=${out#*$'\n'}
  local body=${rest#*$'\n'}
  case $action in
    insert) READLINE_LINE=$body; READLINE_POINT=${#body} ;;
    *) READLINE_LINE=$text; READLINE_POINT=${#text} ;;
  esac
}
if [[ -z ${CMDAI_NOBIND-} && -n $__cmdai_key ]]; then
  builtin bind -m emacs -x "\"$__cmdai_key\": __cmdai_ctrl_g"
  builtin bind -m vi-insert -x "\"$__cmdai_key\": __cmdai_ctrl_g"
  builtin bind -m vi-command -x "\"$__cmdai_key\": __cmdai_ctrl_g"
fi
# --- end Ctrl-G ---

# --- history picker ---
# Up on an empty line and Ctrl-R (seeded with the line) open the picker: prompt-toolkit drawn
# on /dev/tty, the action and the chosen command on stdout. A key runs a macro of two private
# sequences: the first (bind -x) runs the picker or decides to fall back, and binds the second
# to what comes next: previous-history (Up on a non-empty line), accept-line (search.enter =
# "run"), or a redraw. Honours CMDAI_NOBIND, --disable-up-arrow and --disable-ctrl-r.
__cmdai_picker() {  # $1: the text to start the search with
  local out st
  # the daemon draws it on this terminal when it runs (fast); else a picker process
  out=$("$__cmdai_python" -I -S "$__cmdai_client" --op pick --cwd "$PWD" \
        --session "$__cmdai_session" -- "$1" </dev/null 2>/dev/null)
  st=$?
  if (( st == 3 )); then
    out=$("$__cmdai_python" -I -m cmdai search --interactive --widget --query "$1" \
          </dev/tty 2>/dev/tty)
    st=$?
  fi
  # prompt-toolkit leaves bracketed paste off (pitfall 3)
  [[ $(builtin bind -v 2>/dev/null) == *"enable-bracketed-paste on"* ]] &&
    builtin printf '\e[?2004h' >/dev/tty
  __cmdai_next=redraw-current-line
  if (( st == 0 )) && [[ $out == *$'\n'* ]]; then
    [[ ${out%%$'\n'*} == run ]] && __cmdai_next=accept-line
    out=${out#*$'\n'}
    READLINE_LINE=$out
    READLINE_POINT=${#out}  # characters in bash 5.2 (pitfall 18)
  fi
}
__cmdai_up_widget() {
  if [[ -z $READLINE_LINE ]]; then
    __cmdai_picker ""
  else
    __cmdai_next=previous-history
  fi
  builtin bind "\"\C-x\C-_n\": $__cmdai_next"
}
__cmdai_ctrl_r_widget() {
  __cmdai_picker "$READLINE_LINE"
  builtin bind "\"\C-x\C-_n\": $__cmdai_next"
}
if [[ -z ${CMDAI_NOBIND-} ]]; then
  for __cmdai_map in emacs vi-insert; do
    builtin bind -m "$__cmdai_map" '"\C-x\C-_n": redraw-current-line'
    if [[ $__cmdai_up_arrow == 1 ]]; then  # both Up sequences (pitfall 12)
      builtin bind -m "$__cmdai_map" -x '"\C-x\C-_u": __cmdai_up_widget'
      builtin bind -m "$__cmdai_map" '"\e[A": "\C-x\C-_u\C-x\C-_n"'
      builtin bind -m "$__cmdai_map" '"\eOA": "\C-x\C-_u\C-x\C-_n"'
    fi
    if [[ $__cmdai_ctrl_r == 1 ]]; then
      builtin bind -m "$__cmdai_map" -x '"\C-x\C-_r": __cmdai_ctrl_r_widget'
      builtin bind -m "$__cmdai_map" '"\C-r": "\C-x\C-_r\C-x\C-_n"'
    fi
  done
  unset __cmdai_map
fi
# --- end history picker ---
