# SPDX-License-Identifier: MIT
# fish completion for mgcall(1).  Install as
# /usr/share/fish/vendor_completions.d/mgcall.fish
# The options are those of each command's --help (tests/system/t_manpages.sh).

function __mgcall_cmd --description 'mgcall: is the command (and keeper subcommand) this?'
    set -l words (commandline -opc)
    test (count $words) -ge 2; or return 1
    test "$words[2]" = "$argv[1]"; or return 1
    if set -q argv[2]
        test (count $words) -ge 3; and contains -- $words[3] $argv[2..-1]
        return
    end
    return 0
end

function __mgcall_keeper_needs_sub
    set -l words (commandline -opc)
    test (count $words) -eq 2; and test "$words[2]" = keeper
end

complete -c mgcall -f

# mgcall itself
complete -c mgcall -n __fish_use_subcommand -a keep-alive -d 'send keepAlive for one or many calls'
complete -c mgcall -n __fish_use_subcommand -a token -d 'acquire an app-only token, print its facts'
complete -c mgcall -n __fish_use_subcommand -a keeper -d 'daemon keeping many calls alive'
complete -c mgcall -n __fish_use_subcommand -a emulator -d 'local Graph calls + identity service'
complete -c mgcall -n __fish_use_subcommand -a help -d 'show help'
complete -c mgcall -n __fish_use_subcommand -l version -d 'print the version'
complete -c mgcall -n __fish_use_subcommand -s h -l help -d 'show help'
complete -c mgcall -n '__fish_seen_subcommand_from help' -a 'keep-alive token keeper emulator'

# authentication and endpoint options: keep-alive, token, keeper run
set -l __mgcall_auth '__mgcall_cmd keep-alive; or __mgcall_cmd token; or __mgcall_cmd keeper run'
complete -c mgcall -n $__mgcall_auth -l access-token-file -rF -d 'bearer token in FILE'
complete -c mgcall -n $__mgcall_auth -l tenant-id -x -d tenant
complete -c mgcall -n $__mgcall_auth -l client-id -x -d 'application (client) id'
complete -c mgcall -n $__mgcall_auth -l client-secret-file -rF -d 'client secret in FILE'
complete -c mgcall -n $__mgcall_auth -l certificate -rF -d 'PEM or PKCS#12 file'
complete -c mgcall -n $__mgcall_auth -l certificate-password-file -rF -d 'password of the certificate'
complete -c mgcall -n $__mgcall_auth -l send-certificate-chain -d 'send x5c'
complete -c mgcall -n $__mgcall_auth -l assertion-alg -x -a 'PS256 RS256' -d 'assertion signature'
complete -c mgcall -n $__mgcall_auth -l managed-identity -d 'use the Azure managed identity'
complete -c mgcall -n $__mgcall_auth -l imds-url -x -d 'IMDS base'
complete -c mgcall -n $__mgcall_auth -l scope -x -d 'token scope'
complete -c mgcall -n $__mgcall_auth -l no-token-cache -d 'no token cache'
complete -c mgcall -n $__mgcall_auth -l environment -x -a 'Global USGov USGovDoD China' -d 'national cloud'
complete -c mgcall -n $__mgcall_auth -l graph-url -x -d 'Graph root'
complete -c mgcall -n $__mgcall_auth -l authority-url -x -d 'login root'
complete -c mgcall -n $__mgcall_auth -l cacert -rF -d 'also trust these CAs'
complete -c mgcall -n $__mgcall_auth -l connect-timeout -x -d 'seconds'
complete -c mgcall -n $__mgcall_auth -l timeout -x -d 'seconds per request'
complete -c mgcall -n $__mgcall_auth -l proxy -x -d 'HTTP(S) proxy'

# keep-alive
set -l ka '__mgcall_cmd keep-alive'
complete -c mgcall -n $ka -l call-id -x -d 'a call id'
complete -c mgcall -n $ka -l input-object -x -d 'identity object {"CallId": ...}'
complete -c mgcall -n $ka -s H -l header -x -d "request header 'Name: value'"
complete -c mgcall -n $ka -l pass-thru -d 'print True per success'
complete -c mgcall -n $ka -l response-headers -rF -d 'append response headers to FILE'
complete -c mgcall -n $ka -l what-if -d 'print, send nothing'
complete -c mgcall -n $ka -l confirm -d 'ask before each call'
complete -c mgcall -n $ka -l progress -x -a 'auto always never' -d 'progress bar'
complete -c mgcall -n $ka -l on-error -x -a 'continue stop' -d 'after a failure'
complete -c mgcall -n $ka -l debug -d 'HTTP blocks to stderr'
complete -c mgcall -n $ka -s v -l verbose -d 'one line per attempt'
complete -c mgcall -n $ka -l api-version -x -a 'v1.0 beta' -d 'Graph API version'
complete -c mgcall -n $ka -l output -x -a 'text json' -d 'output format'
complete -c mgcall -n $ka -l parallel -x -d 'requests in flight'
complete -c mgcall -n $ka -l retries -x -d 'retries (0..10)'
complete -c mgcall -n $ka -l retry-max-time -x -d 'bound on retrying one call'
complete -c mgcall -n $ka -s h -l help -d 'show help'

# token
set -l tk '__mgcall_cmd token'
complete -c mgcall -n $tk -l raw -d 'print only the token'
complete -c mgcall -n $tk -l json -d 'facts as JSON'
complete -c mgcall -n $tk -l debug -d 'HTTP blocks to stderr'
complete -c mgcall -n $tk -l force-refresh -d 'ignore cached tokens'
complete -c mgcall -n $tk -l help -d 'show help'

# keeper
complete -c mgcall -n __mgcall_keeper_needs_sub -a run -d 'the daemon'
complete -c mgcall -n __mgcall_keeper_needs_sub -a add -d 'register calls'
complete -c mgcall -n __mgcall_keeper_needs_sub -a remove -d 'stop keeping a call alive'
complete -c mgcall -n __mgcall_keeper_needs_sub -a list -d 'the tracked calls'
complete -c mgcall -n __mgcall_keeper_needs_sub -a show -d 'one call'
complete -c mgcall -n __mgcall_keeper_needs_sub -a fleet -d 'the keepers sharing the store'
complete -c mgcall -n __mgcall_keeper_needs_sub -l help -d 'show help'
set -l run '__mgcall_cmd keeper run'
complete -c mgcall -n $run -l store -x -d 'sqlite:PATH or postgresql://...'
complete -c mgcall -n $run -l node-id -x -d 'fleet member name'
complete -c mgcall -n $run -l lease-ttl -x -d 'fleet shard lease'
complete -c mgcall -n $run -l listen -x -d 'control API ADDR:PORT'
complete -c mgcall -n $run -l allowed-host -x -d 'another host name clients may use'
complete -c mgcall -n $run -l notification-app-id -x -d 'app ids of signed notifications'
complete -c mgcall -n $run -l notification-openid-url -x -d 'where their keys are'
complete -c mgcall -n $run -l interval -x -d 'keepAlive interval'
complete -c mgcall -n $run -l deadline -x -d "Graph's inactivity limit"
complete -c mgcall -n $run -l jitter -x -d 'spread, percent'
complete -c mgcall -n $run -l max-concurrency -x -d 'requests in flight at most'
complete -c mgcall -n $run -l concurrency -x -d 'fixed requests in flight'
complete -c mgcall -n $run -l on-ended -x -d 'command when a call ends'
complete -c mgcall -n $run -l on-ended-url -x -d 'POST when a call ends'
complete -c mgcall -n $run -l hook-timeout -x -d 'per hook attempt'
complete -c mgcall -n $run -l hook-retries -x -d 'retries of a failed hook'
complete -c mgcall -n $run -l stop-timeout -x -d 'hooks at exit'
complete -c mgcall -n $run -l retention -x -d 'purge ended calls older than'
complete -c mgcall -n $run -l log-format -x -a 'text json' -d 'log format'
complete -c mgcall -n $run -s v -l verbose -d 'log every keepAlive'
complete -c mgcall -n '__mgcall_cmd keeper run add remove list show fleet' -l api-token-file -rF -d 'control API bearer token'
complete -c mgcall -n '__mgcall_cmd keeper run add remove list show fleet' -l help -d 'show help'
complete -c mgcall -n '__mgcall_cmd keeper add remove list show fleet' -l keeper-url -x -d 'control API URL'
complete -c mgcall -n '__mgcall_cmd keeper add' -l tenant-id -x -d "the call's tenant"
complete -c mgcall -n '__mgcall_cmd keeper add' -l started-at -x -d 'when the call started (RFC 3339)'
complete -c mgcall -n '__mgcall_cmd keeper list show fleet' -l json -d "the API's JSON"

# emulator
set -l emu '__mgcall_cmd emulator'
complete -c mgcall -n $emu -l listen -x -d 'ADDR:PORT'
complete -c mgcall -n $emu -l tls-cert -rF -d 'PEM certificate'
complete -c mgcall -n $emu -l tls-key -rF -d 'PEM private key'
complete -c mgcall -n $emu -l inactivity-timeout -x -d 'end calls without keepAlive after'
complete -c mgcall -n $emu -l establish-delay -x -d 'establishing -> established after'
complete -c mgcall -n $emu -l retention -x -d 'keep ended calls visible for'
complete -c mgcall -n $emu -l client -x -d 'ID:SECRET'
complete -c mgcall -n $emu -l client-cert -x -d 'ID:CERT.pem'
complete -c mgcall -n $emu -l managed-identity -x -d 'ID[@TENANT]'
complete -c mgcall -n $emu -l roles -x -d 'roles in issued tokens'
complete -c mgcall -n $emu -l token-lifetime -x -d 'access token lifetime'
complete -c mgcall -n $emu -l fault-rate -x -d 'fraction of faults'
complete -c mgcall -n $emu -l fault-status -x -d 'statuses to inject'
complete -c mgcall -n $emu -l fault-scope -x -a 'graph token all' -d 'where faults apply'
complete -c mgcall -n $emu -l retry-after -x -d 'Retry-After of injected faults'
complete -c mgcall -n $emu -l latency -x -d 'delay every response'
complete -c mgcall -n $emu -l latency-jitter -x -d 'vary each delay, percent'
complete -c mgcall -n $emu -l throttle -x -d 'N/s per application'
complete -c mgcall -n $emu -l seed -x -d 'seed of the fault generator'
complete -c mgcall -n $emu -l record -rF -d 'append one JSON line per request'
complete -c mgcall -n $emu -l state -rF -d 'keep calls across restarts'
complete -c mgcall -n $emu -l callback-cacert -rF -d 'extra CA for callbacks'
complete -c mgcall -n $emu -l notification-key -rF -d 'RSA key signing callbacks'
complete -c mgcall -n $emu -l token-key -rF -d 'RSA key signing access tokens'
complete -c mgcall -n $emu -l unsigned-callbacks -d 'callbacks without Authorization'
complete -c mgcall -n $emu -l notification-reorder -d 'established before establishing'
complete -c mgcall -n $emu -l threads -x -d 'HTTP worker threads'
complete -c mgcall -n $emu -l max-calls -x -d 'calls held at most'
complete -c mgcall -n $emu -l max-concurrent-streams -x -d 'HTTP/2 streams a connection may open'
complete -c mgcall -n $emu -l max-requests-per-connection -x -d 'then GOAWAY or Connection: close'
complete -c mgcall -n $emu -l no-http2 -d 'HTTP/1.1 only'
complete -c mgcall -n $emu -l help -d 'show help'
