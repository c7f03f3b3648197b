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
