# cmdai shell integration for fish (3.x and 4.x).
# Printed by `cmdai init fish` with absolute paths filled in; load it from
# ~/.config/fish/config.fish with
#   cmdai init fish | source
# It records every executed command by appending one line to a per-session spool file
# (pure shell: no process is started per command). Private mode (fish --private) records
# nothing. Set CMDAI_NOBIND=1 before loading it to keep every key binding as it is.

if status is-interactive
    set -g __cmdai_python @CMDAI_PYTHON@
    set -g __cmdai_spool @CMDAI_SPOOL@
    set -g __cmdai_up_arrow @CMDAI_UP_ARROW@
    set -g __cmdai_ctrl_r @CMDAI_CTRL_R@
    set -g __cmdai_client @CMDAI_CLIENT@
    # fish 4 names keys like "ctrl-g", fish 3 like "\cg"
    if test (string split -f1 . -- $version) -ge 4
        set -g __cmdai_key @CMDAI_KEY_FISH4@
    else
        set -g __cmdai_key @CMDAI_KEY_FISH3@
    end

    # Loading the script again keeps the session; the functions below replace themselves.
    if not set -q __cmdai_session
        set -g __cmdai_session (string join . $fish_pid (random) (random))
    end
    set -gx CMDAI_SESSION $__cmdai_session
    set -q hostname; or set -l hostname localhost
    set -g __cmdai_file "$__cmdai_spool/$hostname-$__cmdai_session.tsv"
    set -g __cmdai_clock "$__cmdai_spool/.$__cmdai_session.clock"
    # a reload (while the `source` command itself runs) keeps these
    set -q __cmdai_cmd; or set -g __cmdai_cmd
    set -q __cmdai_cwd; or set -g __cmdai_cwd
    set -q __cmdai_start; or set -g __cmdai_start
    set -q __cmdai_seq; or set -g __cmdai_seq 0
    # fish has no clock variable. fish >= 3.5 has the `path` builtin: touching a file and
    # reading its mtime gives the time in seconds without starting a process. Older fish
    # falls back to `date`.
    if contains -- path (builtin -n)
        function __cmdai_now
            builtin true >$__cmdai_clock 2>/dev/null; and path mtime -- $__cmdai_clock 2>/dev/null
        end
    else
        function __cmdai_now
            command date +%s
        end
    end

    function __cmdai_escape
        # most commands have nothing to escape: skip the pipeline for them
        if string match -qr '[\\\\\t\r\n]' -- $argv[1]
            string replace -a '\\' '\\\\' -- $argv[1] | string replace -a \t '\\t' | string replace -a \r '\\r' | string join '\\n'
        else
            printf '%s' $argv[1]
        end
    end

    function __cmdai_preexec --on-event fish_preexec
        test -d $__cmdai_spool; or command mkdir -p -m 700 -- $__cmdai_spool 2>/dev/null
        set -g __cmdai_cmd $argv[1]
        set -g __cmdai_cwd $PWD
        set -g __cmdai_start (__cmdai_now)
    end

    function __cmdai_postexec --on-event fish_postexec
        set -l st $status
        set -l dur $CMD_DURATION
        set -l cmd $__cmdai_cmd
        set -l cwd $__cmdai_cwd
        set -g __cmdai_cmd
        set -q fish_private_mode; and return 0
        # `cmdai pause` (this session only): a flag file, tested with a builtin
        test -e $__cmdai_spool/.paused-$__cmdai_session; and return 0
        # a leading space keeps a command out of history; so does a blank line
        string match -qr '^\s|^\s*$' -- "$cmd"; and return 0
        test -n "$cmd"; or return 0
        set -l start $__cmdai_start
        test -n "$start"; or return 0
        # whole seconds only: a per-session counter as the fraction keeps two runs of the same
        # command in one second apart (and in order) instead of folding them into one
        set -g __cmdai_seq (math $__cmdai_seq + 1)
        set start $start.(string pad -w 6 -c 0 -- $__cmdai_seq)
        set -l ecwd (__cmdai_escape "$cwd")
        set -l ecmd (__cmdai_escape "$cmd")
        printf 'v1\tfish\t%s\t%s\t%s\t%s\t%s\t%s\n' $__cmdai_session $start $st $dur "$ecwd" "$ecmd" \
            >>$__cmdai_file 2>/dev/null
        return 0
    end

    # Key bindings: the history picker (Up on an empty line, Ctrl-R) is bound here by the
    # feature that provides it; CMDAI_NOBIND, --disable-up-arrow and --disable-ctrl-r are
    # honoured.

    # --- Ctrl-G: natural language -> command (or an explanation of a command) ---
    # The client draws its progress on /dev/tty and reads Ctrl-C/Esc itself with the
    # terminal's signals off; on cancel the user's text is put back as typed.
    function __cmdai_ctrl_g
        set -l text (commandline -b | string collect)
        if not string match -qr '\S' -- "$text"
            printf '\r\033[Kcmdai: type what you want (or a command to explain), then press Ctrl-G\n' >/dev/tty
            commandline -f repaint
            return
        end
        set -l out ($__cmdai_python -I -S $__cmdai_client --progress --shell fish --cwd $PWD \
            --session $__cmdai_session -- "$text" </dev/null 2>/dev/null)
        if test "$out[1]" = insert
            set -l body (string join \n -- $out[3..-1] | string collect)
            commandline -r -- $body
            commandline -C (string length -- "$body")
        else
            commandline -r -- $text
        end
        commandline -f repaint
    end
    if not set -q CMDAI_NOBIND; and test -n "$__cmdai_key"
        bind $__cmdai_key __cmdai_ctrl_g
        bind -M insert $__cmdai_key __cmdai_ctrl_g
    end
    # --- end Ctrl-G ---

    # --- history picker ---
    # Up on an empty line and Ctrl-R (seeded with the line) open the picker: prompt-toolkit
    # drawn on /dev/tty, the action and the chosen command on stdout. Up on a non-empty line
    # keeps fish's own up-or-search. Honours CMDAI_NOBIND, --disable-up-arrow, --disable-ctrl-r.
    function __cmdai_picker
        # prompt-toolkit leaves bracketed paste off (pitfall 3): fish's own helpers put it back
        functions -q __fish_disable_bracketed_paste; and __fish_disable_bracketed_paste
        # the daemon draws it on this terminal when it runs (fast); else a picker process
        set -l out ($__cmdai_python -I -S $__cmdai_client --op pick --cwd $PWD \
            --session $__cmdai_session -- "$argv[1]" </dev/null 2>/dev/null)
        set -l st $status
        if test $st -eq 3
            set out ($__cmdai_python -I -m cmdai search --interactive --widget --query "$argv[1]" \
                </dev/tty 2>/dev/tty)
            set st $status
        end
        functions -q __fish_enable_bracketed_paste; and __fish_enable_bracketed_paste
        if test $st -eq 0; and test (count $out) -ge 2
            set -l cmd (string join \n -- $out[2..-1] | string collect)
            commandline -r -- $cmd
            commandline -C (string length -- "$cmd")
            if test "$out[1]" = run
                commandline -f execute
            end
        end
        commandline -f repaint
    end
    function __cmdai_up_widget
        if test -z (commandline -b | string collect)
            __cmdai_picker ''
        else
            up-or-search  # fish's own Up (a function)
        end
    end
    function __cmdai_ctrl_r_widget
        __cmdai_picker (commandline -b | string collect)
    end
    if not set -q CMDAI_NOBIND
        set -l fish4 (test (string split -f1 . -- $version) -ge 4; and echo 1)
        for mode in default insert
            if test "$__cmdai_up_arrow" = 1
                if test -n "$fish4"
                    bind -M $mode up __cmdai_up_widget
                else
                    bind -M $mode \e\[A __cmdai_up_widget
                    bind -M $mode \eOA __cmdai_up_widget
                end
            end
            if test "$__cmdai_ctrl_r" = 1
                if test -n "$fish4"
                    bind -M $mode ctrl-r __cmdai_ctrl_r_widget
                else
                    bind -M $mode \cr __cmdai_ctrl_r_widget
                end
            end
        end
    end
    # --- end history picker ---
end
