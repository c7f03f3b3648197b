# cmdai shell integration for zsh.
# Printed by `cmdai init zsh` with absolute paths filled in; load it from ~/.zshrc with
#   eval "$(cmdai init zsh)"
# It records every executed command by appending one line to a per-session spool file
# (pure shell: no process is started per command). Set CMDAI_NOBIND=1 before loading it to
# keep every key binding as it is.

[[ -o interactive ]] || return 0
zmodload zsh/datetime 2>/dev/null || return 0

typeset -g __cmdai_python=@CMDAI_PYTHON@
typeset -g __cmdai_spool=@CMDAI_SPOOL@
typeset -g __cmdai_up_arrow=@CMDAI_UP_ARROW@
typeset -g __cmdai_ctrl_r=@CMDAI_CTRL_R@
typeset -g __cmdai_client=@CMDAI_CLIENT@
typeset -g __cmdai_key=@CMDAI_KEY@

# Loading the script again (e.g. `source ~/.zshrc`) keeps the session and adds no second hook.
if [[ -z ${__cmdai_session-} ]]; then
  typeset -g __cmdai_session="${EPOCHSECONDS}.$$.${RANDOM}"
fi
typeset -gx CMDAI_SESSION=$__cmdai_session
typeset -g __cmdai_file="${__cmdai_spool}/${HOST:-localhost}-${__cmdai_session}.tsv"
typeset -g __cmdai_cmd __cmdai_cwd __cmdai_start  # no assignment: a reload keeps them

__cmdai_preexec() {
  # $1 is the line as the user typed it, before alias expansion.
  __cmdai_cmd=$1
  __cmdai_cwd=$PWD
  __cmdai_start=$EPOCHREALTIME
}

__cmdai_precmd() {
  local -i st=$?
  [[ -n $__cmdai_start ]] || return 0
  local cmd=$__cmdai_cmd cwd=$__cmdai_cwd start=$__cmdai_start
  __cmdai_start=
  # `cmdai pause` (this session only): a flag file, tested without a process
  [[ -e ${__cmdai_spool}/.paused-${__cmdai_session} ]] && return 0
  # a leading space keeps a command out of history; so does a blank line
  [[ $cmd == [[:space:]]* || -z ${cmd//[[:space:]]/} ]] && return 0
  local -i dur
  (( dur = (EPOCHREALTIME - start) * 1000 ))
  cmd=${cmd//\\/\\\\}; cmd=${cmd//$'\t'/\\t}; cmd=${cmd//$'\n'/\\n}; cmd=${cmd//$'\r'/\\r}
  cwd=${cwd//\\/\\\\}; cwd=${cwd//$'\t'/\\t}; cwd=${cwd//$'\n'/\\n}; cwd=${cwd//$'\r'/\\r}
  [[ -d $__cmdai_spool ]] || command mkdir -p -m 700 -- "$__cmdai_spool" 2>/dev/null
  builtin print -r -- "v1"$'\t'"zsh"$'\t'"${__cmdai_session}"$'\t'"${start}"$'\t'"${st}"$'\t'"${dur}"$'\t'"${cwd}"$'\t'"${cmd}" \
    >>| "$__cmdai_file" 2>/dev/null
  return 0
}

autoload -Uz add-zsh-hook
add-zsh-hook preexec __cmdai_preexec
add-zsh-hook precmd __cmdai_precmd

# Key bindings: the history picker (Up on an empty line, Ctrl-R) and Ctrl-G are bound here by
# the features that provide them; CMDAI_NOBIND, --disable-up-arrow and --disable-ctrl-r are
# honoured by each of them.

# --- Ctrl-G: natural language -> command (or an explanation of a command) ---
# The client reads Ctrl-C/Esc itself with the terminal's signals off, so cancelling never
# aborts the line (pitfall 14); on cancel the user's text is put back as typed.
__cmdai_ctrl_g() {
  emulate -L zsh
  local text=$BUFFER
  if [[ -z ${text//[[:space:]]/} ]]; then
    zle -M "cmdai: type what you want (or a command to explain), then press Ctrl-G"
    return 0
  fi
  zle -M "cmdai: working…  (Ctrl-C or Esc cancels)"
  zle -R
  local out
  out=$("$__cmdai_python" -I -S "$__cmdai_client" --shell zsh --cwd "$PWD" \
        --session "$__cmdai_session" -- "$text" </dev/null 2>/dev/null)
  local action=${out%%$'\n'*} rest=${out#*$'\n'}
  local message=${rest%%$'\n'*} body=${rest#*$'\n'}
  case $action in
    insert) BUFFER=$body; CURSOR=${#BUFFER}; zle -M "$message" ;;
    explain) zle -M "$message"$'\n'"$body" ;;
    cancel) BUFFER=$text; CURSOR=${#BUFFER}; zle -M "$message" ;;
    *) zle -M "${message:-cmdai: no answer (see cmdai daemon status)}" ;;
  esac
  zle -R
}
zle -N __cmdai_ctrl_g
if [[ -z ${CMDAI_NOBIND-} && -n $__cmdai_key ]]; then
  bindkey -M emacs "$__cmdai_key" __cmdai_ctrl_g
  bindkey -M viins "$__cmdai_key" __cmdai_ctrl_g
  bindkey -M vicmd "$__cmdai_key" __cmdai_ctrl_g
fi
# --- end Ctrl-G ---

# --- history picker ---
# Up on an empty line and Ctrl-R (seeded with the line) open the picker: prompt-toolkit drawn
# on /dev/tty, the action and the chosen command on stdout. Up on a non-empty line keeps zsh's
# own motion. Honours CMDAI_NOBIND, --disable-up-arrow and --disable-ctrl-r.
__cmdai_picker() {  # $1: the text to start the search with
  emulate -L zsh
  local out st
  # a widget's child gets stdin = /dev/null (pitfall 1): the picker opens /dev/tty itself
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
  [[ -n ${zle_bracketed_paste[1]-} ]] && builtin print -rn -- "${zle_bracketed_paste[1]}" >/dev/tty
  if (( st == 0 )) && [[ $out == *$'\n'* ]]; then
    BUFFER=${out#*$'\n'}
    CURSOR=${#BUFFER}
    zle reset-prompt
    [[ ${out%%$'\n'*} == run ]] && zle accept-line
  else
    zle reset-prompt
  fi
  return 0
}
__cmdai_up_widget() {
  if [[ -z $BUFFER ]]; then __cmdai_picker ""; else zle up-line-or-history; fi
}
__cmdai_ctrl_r_widget() { __cmdai_picker "$BUFFER"; }
zle -N __cmdai_up_widget
zle -N __cmdai_ctrl_r_widget
if [[ -z ${CMDAI_NOBIND-} ]]; then
  if [[ $__cmdai_up_arrow == 1 ]]; then  # both Up sequences (pitfall 12)
    bindkey -M emacs '^[[A' __cmdai_up_widget; bindkey -M emacs '^[OA' __cmdai_up_widget
    bindkey -M viins '^[[A' __cmdai_up_widget; bindkey -M viins '^[OA' __cmdai_up_widget
  fi
  if [[ $__cmdai_ctrl_r == 1 ]]; then
    bindkey -M emacs '^R' __cmdai_ctrl_r_widget
    bindkey -M viins '^R' __cmdai_ctrl_r_widget
  fi
fi
# --- end history picker ---
