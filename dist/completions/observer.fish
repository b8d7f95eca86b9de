# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_observer_global_optspecs
    string join \n v/verbose h/help V/version
end

function __fish_observer_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_observer_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_observer_using_subcommand
    set -l cmd (__fish_observer_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c observer -n "__fish_observer_needs_command" -s v -l verbose -d 'More diagnostics on stderr, including kernel-side logs (aya-log)'
complete -c observer -n "__fish_observer_needs_command" -s h -l help -d 'Print help'
complete -c observer -n "__fish_observer_needs_command" -s V -l version -d 'Print version'
complete -c observer -n "__fish_observer_needs_command" -f -a "trace" -d 'Trace notify datagrams live'
complete -c observer -n "__fish_observer_needs_command" -f -a "record" -d 'Record notify traffic, unit changes and verdicts to a file, for replay and diagnose'
complete -c observer -n "__fish_observer_needs_command" -f -a "replay" -d 'Show a recording with the same views and filters as trace (no root, BPF or systemd needed)'
complete -c observer -n "__fish_observer_needs_command" -f -a "diagnose" -d 'Tell each unit\'s story in plain words: what it was waiting for, what arrived, what systemd did with it, and the likely cause with the fix. Live when no FILE is given'
complete -c observer -n "__fish_observer_needs_command" -f -a "report" -d 'Write one self-contained HTML page for a recording: per unit a timeline of its states, each message coloured by its verdict, timeouts and MainPID handovers, beside the diagnose text'
complete -c observer -n "__fish_observer_needs_command" -f -a "check" -d 'Say which capture strategies this kernel allows, and why any is refused'
complete -c observer -n "__fish_observer_needs_command" -f -a "hook-floor" -d 'Attach do-nothing programs where `trace --probe P` hooks, until interrupted: a load run beside it shows what the kernel charges for the hooks alone, whatever programs run there (the benches\' floor)'
complete -c observer -n "__fish_observer_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c observer -n "__fish_observer_using_subcommand trace" -l probe -d 'Capture strategy; `auto` picks the best one the running kernel allows' -r -f -a "auto\t''
fentry\t''
tracepoint\t''"
complete -c observer -n "__fish_observer_using_subcommand trace" -l socket -d 'Also watch this socket: a path, or @name for an abstract socket (repeatable)' -r
complete -c observer -n "__fish_observer_using_subcommand trace" -l receiver -d 'Treat this process as the reader of the --socket sockets it holds open, as systemd is of its own: its reads are captured, so events show whether and when it read each datagram and with which credentials (repeatable)' -r
complete -c observer -n "__fish_observer_using_subcommand trace" -l containers -d 'Which containers\' managers to ask about their units (docs/OPERATIONS.md, "Trust model"). Every container\'s datagrams are shown whatever this says; the others\' verdicts are `unknown`' -r -f -a "trusted\t'Those whose user namespace is the host\'s (their root is the host\'s root), as root'
all\t'Also those in user namespaces of their own, as the namespace\'s owner; what they say is labelled untrusted'
none\t'None: only the host\'s managers are asked'"
complete -c observer -n "__fish_observer_using_subcommand trace" -s u -l unit -d 'Only messages for these units (repeatable; globs like journalctl -u)' -r
complete -c observer -n "__fish_observer_using_subcommand trace" -s n -l count -d 'Exit after this many events (at least 1)' -r
complete -c observer -n "__fish_observer_using_subcommand trace" -l duration -d 'Exit after this long (seconds, fractions allowed; more than 0)' -r
complete -c observer -n "__fish_observer_using_subcommand trace" -l ring-size -d 'Ring buffer size in bytes (a power of two, at least one page)' -r
complete -c observer -n "__fish_observer_using_subcommand trace" -l journal-level -d 'With --journal: every event, or only rejections, failed sends and ring drops' -r -f -a "all\t'Every event'
rejections\t'Rejected and undelivered datagrams, and ring-buffer drops'"
complete -c observer -n "__fish_observer_using_subcommand trace" -l journal-container -d 'With --journal: write every entry to the journald of the container whose init has this host PID. Default: each event goes to the journal of the system whose manager owns the socket it was sent to (a container\'s events to that container\'s journal)' -r
complete -c observer -n "__fish_observer_using_subcommand trace" -l metrics-listen -d 'Serve Prometheus metrics at http://ADDR/metrics (OpenMetrics or the classic text format, as the scraper asks), e.g. 127.0.0.1:9812' -r
complete -c observer -n "__fish_observer_using_subcommand trace" -l metrics-file -d 'Write Prometheus metrics to this file (classic text format, replaced atomically every 5 s and at exit): a *.prom file in node_exporter\'s textfile collector directory' -r -F
complete -c observer -n "__fish_observer_using_subcommand trace" -l metrics-max-units -d 'Managers and units with series of their own (each counts one); later units share unit="(overflow)"' -r
complete -c observer -n "__fish_observer_using_subcommand trace" -l no-default-sockets -d 'Watch only the --socket sockets, not the system, user and container managers\' ones'
complete -c observer -n "__fish_observer_using_subcommand trace" -l json -d 'One JSON object per line instead of the table'
complete -c observer -n "__fish_observer_using_subcommand trace" -l utc -d 'The table\'s times in UTC instead of local time (as journalctl --utc); JSON and journal fields are UTC either way'
complete -c observer -n "__fish_observer_using_subcommand trace" -l journal -d 'Structured entries in the systemd journal instead of the table, attached to the sender\'s unit (journalctl -u shows them next to the unit\'s own lines)'
complete -c observer -n "__fish_observer_using_subcommand trace" -s v -l verbose -d 'More diagnostics on stderr, including kernel-side logs (aya-log)'
complete -c observer -n "__fish_observer_using_subcommand trace" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c observer -n "__fish_observer_using_subcommand record" -s o -l output -d 'The recording file (created 0600; an existing one is rotated to FILE.1 first)' -r -F
complete -c observer -n "__fish_observer_using_subcommand record" -l max-size -d 'Start a new file when this one reaches SIZE bytes (suffixes K, M, G)' -r
complete -c observer -n "__fish_observer_using_subcommand record" -l max-age -d 'Start a new file when this one is this old (seconds; suffixes s, m, h, d)' -r
complete -c observer -n "__fish_observer_using_subcommand record" -l keep -d 'Rotated files to keep (FILE.1 newest … FILE.N oldest; at most 1000)' -r
complete -c observer -n "__fish_observer_using_subcommand record" -l sync-every -d 'fdatasync the file this often (seconds); records are written at once either way' -r
complete -c observer -n "__fish_observer_using_subcommand record" -l probe -d 'Capture strategy; `auto` picks the best one the running kernel allows' -r -f -a "auto\t''
fentry\t''
tracepoint\t''"
complete -c observer -n "__fish_observer_using_subcommand record" -l socket -d 'Also watch this socket: a path, or @name for an abstract socket (repeatable)' -r
complete -c observer -n "__fish_observer_using_subcommand record" -l receiver -d 'Treat this process as the reader of the --socket sockets it holds open, as systemd is of its own: its reads are captured, so events show whether and when it read each datagram and with which credentials (repeatable)' -r
complete -c observer -n "__fish_observer_using_subcommand record" -l containers -d 'Which containers\' managers to ask about their units (docs/OPERATIONS.md, "Trust model"). Every container\'s datagrams are shown whatever this says; the others\' verdicts are `unknown`' -r -f -a "trusted\t'Those whose user namespace is the host\'s (their root is the host\'s root), as root'
all\t'Also those in user namespaces of their own, as the namespace\'s owner; what they say is labelled untrusted'
none\t'None: only the host\'s managers are asked'"
complete -c observer -n "__fish_observer_using_subcommand record" -s u -l unit -d 'Only messages for these units (repeatable; globs like journalctl -u)' -r
complete -c observer -n "__fish_observer_using_subcommand record" -s n -l count -d 'Exit after this many events (at least 1)' -r
complete -c observer -n "__fish_observer_using_subcommand record" -l duration -d 'Exit after this long (seconds, fractions allowed; more than 0)' -r
complete -c observer -n "__fish_observer_using_subcommand record" -l ring-size -d 'Ring buffer size in bytes (a power of two, at least one page)' -r
complete -c observer -n "__fish_observer_using_subcommand record" -l journal-level -d 'With --journal: every event, or only rejections, failed sends and ring drops' -r -f -a "all\t'Every event'
rejections\t'Rejected and undelivered datagrams, and ring-buffer drops'"
complete -c observer -n "__fish_observer_using_subcommand record" -l journal-container -d 'With --journal: write every entry to the journald of the container whose init has this host PID. Default: each event goes to the journal of the system whose manager owns the socket it was sent to (a container\'s events to that container\'s journal)' -r
complete -c observer -n "__fish_observer_using_subcommand record" -l metrics-listen -d 'Serve Prometheus metrics at http://ADDR/metrics (OpenMetrics or the classic text format, as the scraper asks), e.g. 127.0.0.1:9812' -r
complete -c observer -n "__fish_observer_using_subcommand record" -l metrics-file -d 'Write Prometheus metrics to this file (classic text format, replaced atomically every 5 s and at exit): a *.prom file in node_exporter\'s textfile collector directory' -r -F
complete -c observer -n "__fish_observer_using_subcommand record" -l metrics-max-units -d 'Managers and units with series of their own (each counts one); later units share unit="(overflow)"' -r
complete -c observer -n "__fish_observer_using_subcommand record" -l no-default-sockets -d 'Watch only the --socket sockets, not the system, user and container managers\' ones'
complete -c observer -n "__fish_observer_using_subcommand record" -l json -d 'One JSON object per line instead of the table'
complete -c observer -n "__fish_observer_using_subcommand record" -l utc -d 'The table\'s times in UTC instead of local time (as journalctl --utc); JSON and journal fields are UTC either way'
complete -c observer -n "__fish_observer_using_subcommand record" -l journal -d 'Structured entries in the systemd journal instead of the table, attached to the sender\'s unit (journalctl -u shows them next to the unit\'s own lines)'
complete -c observer -n "__fish_observer_using_subcommand record" -s v -l verbose -d 'More diagnostics on stderr, including kernel-side logs (aya-log)'
complete -c observer -n "__fish_observer_using_subcommand record" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c observer -n "__fish_observer_using_subcommand replay" -s u -l unit -d 'Only messages for these units (repeatable; globs like journalctl -u)' -r
complete -c observer -n "__fish_observer_using_subcommand replay" -l since -d 'Only from this time on, read as journalctl reads it: "YYYY-MM-DD HH:MM[:SS]" (local time; UTC with --utc or a " UTC" suffix), RFC 3339, "today", "yesterday", "-5min", "1h ago", or @UNIX_SECONDS' -r
complete -c observer -n "__fish_observer_using_subcommand replay" -l until -d 'Only up to this time (same forms as --since)' -r
complete -c observer -n "__fish_observer_using_subcommand replay" -l pid -d 'Only datagrams sent by these PIDs (repeatable)' -r
complete -c observer -n "__fish_observer_using_subcommand replay" -l utc -d 'Show times, and read --since/--until, in UTC instead of local time (as journalctl --utc)'
complete -c observer -n "__fish_observer_using_subcommand replay" -l force -d 'Read past damage: skip to the next intact record instead of stopping at the first bad one'
complete -c observer -n "__fish_observer_using_subcommand replay" -l json -d 'One JSON object per line instead of the table'
complete -c observer -n "__fish_observer_using_subcommand replay" -s v -l verbose -d 'More diagnostics on stderr, including kernel-side logs (aya-log)'
complete -c observer -n "__fish_observer_using_subcommand replay" -s h -l help -d 'Print help'
complete -c observer -n "__fish_observer_using_subcommand diagnose" -s u -l unit -d 'Only messages for these units (repeatable; globs like journalctl -u)' -r
complete -c observer -n "__fish_observer_using_subcommand diagnose" -l since -d 'Only from this time on, read as journalctl reads it: "YYYY-MM-DD HH:MM[:SS]" (local time; UTC with --utc or a " UTC" suffix), RFC 3339, "today", "yesterday", "-5min", "1h ago", or @UNIX_SECONDS' -r
complete -c observer -n "__fish_observer_using_subcommand diagnose" -l until -d 'Only up to this time (same forms as --since)' -r
complete -c observer -n "__fish_observer_using_subcommand diagnose" -l pid -d 'Only datagrams sent by these PIDs (repeatable)' -r
complete -c observer -n "__fish_observer_using_subcommand diagnose" -l duration -d 'Live only: stop after this long (seconds); default: until interrupted' -r
complete -c observer -n "__fish_observer_using_subcommand diagnose" -l socket -d 'Live only: watch this socket too (path or @name, repeatable)' -r
complete -c observer -n "__fish_observer_using_subcommand diagnose" -l probe -d 'Live only: capture strategy' -r -f -a "auto\t''
fentry\t''
tracepoint\t''"
complete -c observer -n "__fish_observer_using_subcommand diagnose" -l containers -d 'Live only: which containers\' managers to ask about their units (as for trace)' -r -f -a "trusted\t'Those whose user namespace is the host\'s (their root is the host\'s root), as root'
all\t'Also those in user namespaces of their own, as the namespace\'s owner; what they say is labelled untrusted'
none\t'None: only the host\'s managers are asked'"
complete -c observer -n "__fish_observer_using_subcommand diagnose" -l utc -d 'Show times, and read --since/--until, in UTC instead of local time (as journalctl --utc)'
complete -c observer -n "__fish_observer_using_subcommand diagnose" -l force -d 'Read past damage: skip to the next intact record instead of stopping at the first bad one'
complete -c observer -n "__fish_observer_using_subcommand diagnose" -s v -l verbose -d 'More diagnostics on stderr, including kernel-side logs (aya-log)'
complete -c observer -n "__fish_observer_using_subcommand diagnose" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c observer -n "__fish_observer_using_subcommand report" -s o -l output -d 'The HTML page to write ("-": stdout)' -r -F
complete -c observer -n "__fish_observer_using_subcommand report" -s u -l unit -d 'Only messages for these units (repeatable; globs like journalctl -u)' -r
complete -c observer -n "__fish_observer_using_subcommand report" -l since -d 'Only from this time on, read as journalctl reads it: "YYYY-MM-DD HH:MM[:SS]" (local time; UTC with --utc or a " UTC" suffix), RFC 3339, "today", "yesterday", "-5min", "1h ago", or @UNIX_SECONDS' -r
complete -c observer -n "__fish_observer_using_subcommand report" -l until -d 'Only up to this time (same forms as --since)' -r
complete -c observer -n "__fish_observer_using_subcommand report" -l pid -d 'Only datagrams sent by these PIDs (repeatable)' -r
complete -c observer -n "__fish_observer_using_subcommand report" -l utc -d 'Show times, and read --since/--until, in UTC instead of local time (as journalctl --utc)'
complete -c observer -n "__fish_observer_using_subcommand report" -l force -d 'Read past damage: skip to the next intact record instead of stopping at the first bad one'
complete -c observer -n "__fish_observer_using_subcommand report" -s v -l verbose -d 'More diagnostics on stderr, including kernel-side logs (aya-log)'
complete -c observer -n "__fish_observer_using_subcommand report" -s h -l help -d 'Print help'
complete -c observer -n "__fish_observer_using_subcommand check" -l json -d 'One JSON document instead of the table (for programs)'
complete -c observer -n "__fish_observer_using_subcommand check" -s v -l verbose -d 'More diagnostics on stderr, including kernel-side logs (aya-log)'
complete -c observer -n "__fish_observer_using_subcommand check" -s h -l help -d 'Print help'
complete -c observer -n "__fish_observer_using_subcommand hook-floor" -l probe -d 'Capture strategy whose hooks to take; `auto` as for trace' -r -f -a "auto\t''
fentry\t''
tracepoint\t''"
complete -c observer -n "__fish_observer_using_subcommand hook-floor" -s v -l verbose -d 'More diagnostics on stderr, including kernel-side logs (aya-log)'
complete -c observer -n "__fish_observer_using_subcommand hook-floor" -s h -l help -d 'Print help'
complete -c observer -n "__fish_observer_using_subcommand help; and not __fish_seen_subcommand_from trace record replay diagnose report check hook-floor help" -f -a "trace" -d 'Trace notify datagrams live'
complete -c observer -n "__fish_observer_using_subcommand help; and not __fish_seen_subcommand_from trace record replay diagnose report check hook-floor help" -f -a "record" -d 'Record notify traffic, unit changes and verdicts to a file, for replay and diagnose'
complete -c observer -n "__fish_observer_using_subcommand help; and not __fish_seen_subcommand_from trace record replay diagnose report check hook-floor help" -f -a "replay" -d 'Show a recording with the same views and filters as trace (no root, BPF or systemd needed)'
complete -c observer -n "__fish_observer_using_subcommand help; and not __fish_seen_subcommand_from trace record replay diagnose report check hook-floor help" -f -a "diagnose" -d 'Tell each unit\'s story in plain words: what it was waiting for, what arrived, what systemd did with it, and the likely cause with the fix. Live when no FILE is given'
complete -c observer -n "__fish_observer_using_subcommand help; and not __fish_seen_subcommand_from trace record replay diagnose report check hook-floor help" -f -a "report" -d 'Write one self-contained HTML page for a recording: per unit a timeline of its states, each message coloured by its verdict, timeouts and MainPID handovers, beside the diagnose text'
complete -c observer -n "__fish_observer_using_subcommand help; and not __fish_seen_subcommand_from trace record replay diagnose report check hook-floor help" -f -a "check" -d 'Say which capture strategies this kernel allows, and why any is refused'
complete -c observer -n "__fish_observer_using_subcommand help; and not __fish_seen_subcommand_from trace record replay diagnose report check hook-floor help" -f -a "hook-floor" -d 'Attach do-nothing programs where `trace --probe P` hooks, until interrupted: a load run beside it shows what the kernel charges for the hooks alone, whatever programs run there (the benches\' floor)'
complete -c observer -n "__fish_observer_using_subcommand help; and not __fish_seen_subcommand_from trace record replay diagnose report check hook-floor help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
