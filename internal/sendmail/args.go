// Package sendmail is sendmail's command-line contract as postern keeps
// it: the flags of `sendmail`, `mailq` and `newaliases` (link names of
// `postern sendmail`), their exit codes (sysexits.h, which cron and
// mail(1) read), and the client that hands a message, an SMTP session
// (-bs) or an address check (-bv) to the running server through its
// local socket. The server's side of local submission is internal/submit.
package sendmail

import (
	"errors"
	"fmt"
	"strings"
)

// Usage is the help text of `postern sendmail -help`.
const Usage = `usage: postern sendmail [flags] [recipient ...]
       (also called as sendmail, mailq and newaliases through a link)

Submits a message read from standard input to the running postern server
through its local socket ([local] socket), without the network.

  -t            take recipients from To, Cc and Bcc (and remove Bcc)
  -i, -oi       a line with a single "." does not end the message
  -f ADDR       envelope sender (default: your login @ the host name);
                -r ADDR is the same
  -F NAME       your full name, for a From field that is added
  -v            show the SMTP conversation
  -N NOTIFY     DSN NOTIFY= (never, or success,failure,delay)
  -R RET        DSN RET= (full or hdrs)
  -V ENVID      DSN ENVID=
  -B TYPE       7BIT or 8BITMIME
  -bm           deliver mail (the default)
  -bs           speak SMTP on standard input and output
  -bv           verify the recipients without sending anything
  -bp           list the queue (mailq)
  -bi           check the aliases (newaliases)
  -q            run the queue now (postern queue flush)
  -C FILE, -config FILE   configuration file (default: $POSTERN_CONFIG,
                then /etc/postern/postern.toml, then the embedded default)
Accepted and ignored: -oem -oee -oep -oeq -oew -odb -odi -odq -odd -om -oo
-n -m -L TAG -h N -G -U.`

// Mode is what the command line asks for.
type Mode byte

// The modes, by the letter of their flag.
const (
	ModeDeliver  Mode = 'm' // -bm: read a message and submit it (the default)
	ModeSMTP     Mode = 's' // -bs: SMTP on standard input and output
	ModeVerify   Mode = 'v' // -bv: check the recipients, send nothing
	ModeList     Mode = 'p' // -bp, mailq: list the queue
	ModeAliases  Mode = 'i' // -bi, newaliases: check the aliases
	ModeQueueRun Mode = 'q' // -q: run the queue now
)

// Args are the parsed flags.
type Args struct {
	Mode     Mode
	Extract  bool   // -t: recipients from the header
	DotEnds  bool   // a line with a single "." ends the message (no -i)
	From     string // -f or -r, as given
	FromSet  bool   // -f or -r was given (From may be "" for the null sender)
	FullName string // -F
	Config   string // -C or -config
	Verbose  bool   // -v
	Notify   string // -N, upper case
	Ret      string // -R, upper case
	EnvID    string // -V
	Body     string // -B, upper case
	Rcpts    []string
}

// ErrHelp is returned by ParseArgs for -help.
var ErrHelp = errors.New("help")

// Alias gives the flags that a link name stands for.
func Alias(name string) []string {
	switch name {
	case "mailq":
		return []string{"-bp"}
	case "newaliases":
		return []string{"-bi"}
	}
	return nil
}

// ParseArgs reads sendmail's flags: single letters, some with a value
// attached ("-fuser") or following ("-f user"), recipients anywhere,
// "--" before recipients that start with "-".
func ParseArgs(args []string) (*Args, error) {
	a := &Args{Mode: ModeDeliver, DotEnds: true}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			a.Rcpts = append(a.Rcpts, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			a.Rcpts = append(a.Rcpts, arg)
			continue
		}
		used, err := a.flag(args[i:])
		if err != nil {
			return nil, err
		}
		i += used
	}
	if err := a.check(); err != nil {
		return nil, err
	}
	return a, nil
}

// flag handles the flag in rest[0] and returns how many of the arguments
// after it it took as its value.
func (a *Args) flag(rest []string) (int, error) {
	arg := rest[0]
	if used, ok, err := a.word(rest); ok {
		return used, err
	}
	if set, ok := valueFlag(arg[1]); ok {
		v, used, err := flagValue(rest)
		if err != nil {
			return 0, err
		}
		return used, set(a, v)
	}
	return 0, a.letters(arg)
}

// word handles the flags that are more than a letter: -h N, -help,
// -config, -bX, -oX; ok is false for the others.
func (a *Args) word(rest []string) (used int, ok bool, err error) {
	arg := rest[0]
	switch {
	case arg == "-h" && len(rest) > 1 && isNumber(rest[1]):
		// Hop count: ours is counted from the Received fields.
		return 1, true, nil
	case strings.HasPrefix(arg, "-h") && isNumber(arg[2:]):
		return 0, true, nil
	case arg == "-help" || arg == "--help":
		return 0, true, ErrHelp
	case arg == "-config" || arg == "--config":
		if len(rest) < 2 {
			return 0, true, errors.New("-config needs a file")
		}
		a.Config = rest[1]
		return 1, true, nil
	case strings.HasPrefix(arg, "-config=") || strings.HasPrefix(arg, "--config="):
		_, a.Config, _ = strings.Cut(arg, "=")
		return 0, true, nil
	case strings.HasPrefix(arg, "-b"):
		return 0, true, a.mode(arg)
	case strings.HasPrefix(arg, "-o"):
		return 0, true, a.option(arg[2:])
	}
	return 0, false, nil
}

// valueFlag returns the setter of a letter that takes a value, attached
// or following; ok is false for the other letters.
func valueFlag(c byte) (set func(a *Args, v string) error, ok bool) {
	switch c {
	case 'f', 'r':
		return (*Args).setFrom, true
	case 'F':
		return func(a *Args, v string) error { a.FullName = v; return nil }, true
	case 'C':
		return func(a *Args, v string) error { a.Config = v; return nil }, true
	case 'N':
		return func(a *Args, v string) error { a.Notify = strings.ToUpper(v); return nil }, true
	case 'R':
		return func(a *Args, v string) error { a.Ret = strings.ToUpper(v); return nil }, true
	case 'V':
		return func(a *Args, v string) error { a.EnvID = v; return nil }, true
	case 'B':
		return (*Args).setBody, true
	case 'L':
		// A syslog tag: postern's log is the server's.
		return func(a *Args, v string) error { return nil }, true
	case 'O':
		return (*Args).longOption, true
	}
	return nil, false
}

// flagValue returns the value of the letter flag in rest[0]: attached to
// it, else the next argument (used 1).
func flagValue(rest []string) (v string, used int, err error) {
	if v := rest[0][2:]; v != "" {
		return v, 0, nil
	}
	if len(rest) < 2 {
		return "", 0, fmt.Errorf("-%s needs a value", rest[0][1:2])
	}
	return rest[1], 1, nil
}

func (a *Args) setFrom(v string) error {
	if a.FromSet {
		return errors.New("more than one -f")
	}
	a.From, a.FromSet = v, true
	return nil
}

func (a *Args) setBody(v string) error {
	a.Body = strings.ToUpper(v)
	if a.Body != "7BIT" && a.Body != "8BITMIME" {
		return fmt.Errorf("-B %s: use 7BIT or 8BITMIME", v)
	}
	return nil
}

// mode handles -bX.
func (a *Args) mode(arg string) error {
	switch arg {
	case "-bm", "-bs", "-bv", "-bp", "-bi":
		a.Mode = Mode(arg[2])
		return nil
	case "-bd", "-bD":
		return errors.New(arg + ": run the server with 'postern serve'")
	}
	return fmt.Errorf("%s: mode not supported (use -bm, -bs, -bv, -bp or -bi)", arg)
}

// letters handles the flags left: -X and -d (refused), -q, and clusters
// of the letters without a value ("-ti").
func (a *Args) letters(arg string) error {
	switch {
	case arg[1] == 'X':
		// sendmail -X writes a transcript into any file the caller
		// names: a classic way to make a privileged mailer write
		// where it should not.
		return errors.New("-X (transcript file) is not supported")
	case arg == "-q":
		// One queue run now, as sendmail -q and postqueue -f.
		a.Mode = ModeQueueRun
		return nil
	case arg[1] == 'q':
		return errors.New(arg + ": postern runs the queue itself (queue_interval); for one run now use -q or 'postern queue flush'")
	case arg[1] == 'd':
		return errors.New(arg + ": debugging flags are not supported (use -v)")
	case strings.Trim(arg[1:], "tivnmGU") != "":
		return fmt.Errorf("unknown option %s (see 'postern sendmail -help')", arg)
	}
	for _, c := range arg[1:] {
		switch c {
		case 't':
			a.Extract = true
		case 'i':
			a.DotEnds = false
		case 'v':
			a.Verbose = true
		}
		// n (no aliasing), m (me too), G (gateway), U (initial
		// user submission): nothing to do.
	}
	return nil
}

// check looks at the DSN values once every flag is read.
func (a *Args) check() error {
	if a.Notify != "" {
		if err := checkNotify(a.Notify); err != nil {
			return err
		}
	}
	if a.Ret != "" && a.Ret != "FULL" && a.Ret != "HDRS" {
		return fmt.Errorf("-R %s: use full or hdrs", a.Ret)
	}
	return nil
}

// option handles -oX: -oi, and delivery and error modes that make no
// difference here (the server queues and reports by mail).
func (a *Args) option(o string) error {
	switch {
	case o == "i" || o == "itrue" || o == "iTrue":
		a.DotEnds = false
	case o == "ifalse":
		a.DotEnds = true
	case len(o) == 2 && o[0] == 'e' && strings.IndexByte("mwpqe", o[1]) >= 0:
	case len(o) == 2 && o[0] == 'd' && strings.IndexByte("biqd", o[1]) >= 0:
	case o == "m", o == "o":
	default:
		return fmt.Errorf("-o%s: option not supported", o)
	}
	return nil
}

// longOption handles -O Name=value, for the same few options.
func (a *Args) longOption(v string) error {
	name, val, _ := strings.Cut(v, "=")
	switch strings.ToLower(name) {
	case "ignoredots":
		a.DotEnds = !(val == "" || strings.EqualFold(val, "true"))
	case "deliverymode", "errormode", "metoo":
	default:
		return fmt.Errorf("-O %s: option not supported", v)
	}
	return nil
}

func isNumber(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// checkNotify checks -N: NEVER alone, or SUCCESS, FAILURE, DELAY
// (RFC 3461 4.1).
func checkNotify(n string) error {
	if n == "NEVER" {
		return nil
	}
	for _, p := range strings.Split(n, ",") {
		switch p {
		case "SUCCESS", "FAILURE", "DELAY":
		default:
			return fmt.Errorf("-N %s: use never, or success, failure and delay", n)
		}
	}
	return nil
}
