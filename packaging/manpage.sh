#!/usr/bin/env bash
# Write postern(8) in roff from the binary's own help, so that the man
# page lists exactly the commands the binary has:
#   bash packaging/manpage.sh BINARY VERSION > postern.8
set -euo pipefail
bin=$1 version=$2
cat <<HEAD
.TH POSTERN 8 "" "postern $version" "System Administration"
.SH NAME
postern \- hardened SMTP gateway and mail server
.SH SYNOPSIS
.B postern
.I COMMAND
.RB [ \-config
.IR FILE ]
.RI [ flags ]
.RI [ arguments ]
.br
.B sendmail
.RI [ "sendmail options" ]
.I recipient ...
.SH DESCRIPTION
postern is an SMTP server with the hardening of a sendmail or Postfix
checklist built in and on by default.
Called as
.BR sendmail ,
.B mailq
or
.BR newaliases ,
it acts as those commands do.
Run
.B postern COMMAND \-h
for the flags of a command.
.SH COMMANDS
HEAD
"$bin" help 2>&1 | sed -n 's/^  \([a-z-]*\)  *\(.*\)$/.TP\n.B \1\n\2/p' | sed 's/^\([^.]\)/\1/; s/\\/\\\\/g; s/^-/\\-/'
cat <<'TAIL'
.SH FILES
.TP
.I /etc/postern/postern.toml
the configuration
.TP
.I /etc/postern/maps/
sendmail's maps as plain text: access, aliases, virtusertable, genericstable, mailertable,
relay-domains, local-host-names, sender-login
.TP
.I /var/lib/postern/
the queue, users, DKIM keys and generated certificate
.TP
.I /run/postern/submit.sock
the local submission socket
.SH SEE ALSO
The full documentation is in
.IR /usr/share/doc/postern/ :
README.md, config.md, commands.md, maps.md, operations.md.
TAIL
