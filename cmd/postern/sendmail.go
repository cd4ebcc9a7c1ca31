package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/user"
	"strings"
	"syscall"
	"time"
	"unicode/utf8"

	"postern/internal/config"
	"postern/internal/inbound"
	"postern/internal/smtp"
	"postern/internal/smtpclient"
	"postern/internal/submit"
)

// Exit codes of sendmail (sysexits.h), which cron and mail(1) read.
const (
	exUsage       = 64 // the command was used incorrectly
	exDataErr     = 65 // the input data was incorrect
	exNoUser      = 67 // addressee unknown
	exUnavailable = 69 // service unavailable
	exIOErr       = 74 // input/output error
	exTempFail    = 75 // temporary failure; the user may retry
	exNoPerm      = 77 // permission denied
	exConfig      = 78 // configuration error
)

// maxSubmission bounds what sendmail reads from its input; the server's
// own SIZE limit is checked before anything is sent.
const maxSubmission = 1 << 30

const sendmailUsage = `usage: postern sendmail [flags] [recipient ...]
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

// sendmailArgs are the parsed flags.
type sendmailArgs struct {
	mode     byte // 'm', 's', 'v', 'p', 'i', 'q' (-bm, -bs, -bv, -bp, -bi, -q)
	extract  bool
	dotEnds  bool
	from     string
	fromSet  bool
	fullName string
	config   string
	verbose  bool
	notify   string
	ret      string
	envid    string
	body     string
	rcpts    []string
}

// sendmailAlias gives the flags that a link name stands for.
func sendmailAlias(name string) []string {
	switch name {
	case "mailq":
		return []string{"-bp"}
	case "newaliases":
		return []string{"-bi"}
	}
	return nil
}

func runSendmail(args []string) int {
	a, err := parseSendmailArgs(args)
	if err != nil {
		if errors.Is(err, errHelp) {
			fmt.Println(sendmailUsage)
			return 0
		}
		fmt.Fprintf(os.Stderr, "postern sendmail: %v\n", err)
		return exUsage
	}
	switch a.mode {
	case 'p':
		qargs := []string{"list"}
		if p := configFile(a.config); p != "" {
			qargs = append(qargs, "-config", p)
		}
		return runQueue(qargs)
	case 'i':
		return newaliases(a)
	case 'q':
		qargs := []string{"flush"}
		if p := configFile(a.config); p != "" {
			qargs = append(qargs, "-config", p)
		}
		return runQueue(qargs)
	}
	sock, code := sendmailSocket(a)
	if code != 0 {
		return code
	}
	switch a.mode {
	case 's':
		return sendmailSMTP(sock, os.Stdin, os.Stdout)
	case 'v':
		return sendmailVerify(a, sock, os.Stdout)
	}
	return sendmailDeliver(a, sock, os.Stdin)
}

var errHelp = errors.New("help")

// parseSendmailArgs reads sendmail's flags: single letters, some with a
// value attached ("-fuser") or following ("-f user"), recipients
// anywhere, "--" before recipients that start with "-".
func parseSendmailArgs(args []string) (*sendmailArgs, error) {
	a := &sendmailArgs{mode: 'm', dotEnds: true}
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			a.rcpts = append(a.rcpts, args[i+1:]...)
			break
		}
		if !strings.HasPrefix(arg, "-") || arg == "-" {
			a.rcpts = append(a.rcpts, arg)
			continue
		}
		value := func(name string) (string, error) {
			if v := arg[len(name)+1:]; v != "" {
				return v, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("-%s needs a value", name)
			}
			i++
			return args[i], nil
		}
		switch {
		case arg == "-h" && i+1 < len(args) && isNumber(args[i+1]), strings.HasPrefix(arg, "-h") && isNumber(arg[2:]):
			// Hop count: ours is counted from the Received fields.
			if arg == "-h" {
				i++
			}
		case arg == "-help" || arg == "--help":
			return nil, errHelp
		case arg == "-config" || arg == "--config" || strings.HasPrefix(arg, "-config=") || strings.HasPrefix(arg, "--config="):
			if _, v, ok := strings.Cut(arg, "="); ok {
				a.config = v
				continue
			}
			if i+1 >= len(args) {
				return nil, errors.New("-config needs a file")
			}
			i++
			a.config = args[i]
		case strings.HasPrefix(arg, "-b"):
			switch arg {
			case "-bm", "-bs", "-bv", "-bp", "-bi":
				a.mode = arg[2]
			case "-bd", "-bD":
				return nil, errors.New(arg + ": run the server with 'postern serve'")
			default:
				return nil, fmt.Errorf("%s: mode not supported (use -bm, -bs, -bv, -bp or -bi)", arg)
			}
		case strings.HasPrefix(arg, "-o"):
			if err := a.option(arg[2:]); err != nil {
				return nil, err
			}
		case strings.HasPrefix(arg, "-O"):
			v, err := value("O")
			if err != nil {
				return nil, err
			}
			if err := a.longOption(v); err != nil {
				return nil, err
			}
		case arg[1] == 'f' || arg[1] == 'r':
			v, err := value(arg[1:2])
			if err != nil {
				return nil, err
			}
			if a.fromSet {
				return nil, errors.New("more than one -f")
			}
			a.from, a.fromSet = v, true
		case arg[1] == 'F':
			v, err := value("F")
			if err != nil {
				return nil, err
			}
			a.fullName = v
		case arg[1] == 'C':
			v, err := value("C")
			if err != nil {
				return nil, err
			}
			a.config = v
		case arg[1] == 'N':
			v, err := value("N")
			if err != nil {
				return nil, err
			}
			a.notify = strings.ToUpper(v)
		case arg[1] == 'R':
			v, err := value("R")
			if err != nil {
				return nil, err
			}
			a.ret = strings.ToUpper(v)
		case arg[1] == 'V':
			v, err := value("V")
			if err != nil {
				return nil, err
			}
			a.envid = v
		case arg[1] == 'B':
			v, err := value("B")
			if err != nil {
				return nil, err
			}
			a.body = strings.ToUpper(v)
			if a.body != "7BIT" && a.body != "8BITMIME" {
				return nil, fmt.Errorf("-B %s: use 7BIT or 8BITMIME", v)
			}
		case arg[1] == 'L':
			// A syslog tag: postern's log is the server's.
			if _, err := value("L"); err != nil {
				return nil, err
			}
		case arg[1] == 'X':
			// sendmail -X writes a transcript into any file the caller
			// names: a classic way to make a privileged mailer write
			// where it should not.
			return nil, errors.New("-X (transcript file) is not supported")
		case arg == "-q":
			// One queue run now, as sendmail -q and postqueue -f.
			a.mode = 'q'
		case arg[1] == 'q':
			return nil, errors.New(arg + ": postern runs the queue itself (queue_interval); for one run now use -q or 'postern queue flush'")
		case arg[1] == 'd':
			return nil, errors.New(arg + ": debugging flags are not supported (use -v)")
		case strings.Trim(arg[1:], "tivnmGU") == "":
			for _, c := range arg[1:] {
				switch c {
				case 't':
					a.extract = true
				case 'i':
					a.dotEnds = false
				case 'v':
					a.verbose = true
				}
				// n (no aliasing), m (me too), G (gateway), U (initial
				// user submission): nothing to do.
			}
		default:
			return nil, fmt.Errorf("unknown option %s (see 'postern sendmail -help')", arg)
		}
	}
	if a.notify != "" {
		if err := checkNotify(a.notify); err != nil {
			return nil, err
		}
	}
	if a.ret != "" && a.ret != "FULL" && a.ret != "HDRS" {
		return nil, fmt.Errorf("-R %s: use full or hdrs", a.ret)
	}
	return a, nil
}

// option handles -oX: -oi, and delivery and error modes that make no
// difference here (the server queues and reports by mail).
func (a *sendmailArgs) option(o string) error {
	switch {
	case o == "i" || o == "itrue" || o == "iTrue":
		a.dotEnds = false
	case o == "ifalse":
		a.dotEnds = true
	case len(o) == 2 && o[0] == 'e' && strings.IndexByte("mwpqe", o[1]) >= 0:
	case len(o) == 2 && o[0] == 'd' && strings.IndexByte("biqd", o[1]) >= 0:
	case o == "m", o == "o":
	default:
		return fmt.Errorf("-o%s: option not supported", o)
	}
	return nil
}

// longOption handles -O Name=value, for the same few options.
func (a *sendmailArgs) longOption(v string) error {
	name, val, _ := strings.Cut(v, "=")
	switch strings.ToLower(name) {
	case "ignoredots":
		a.dotEnds = !(val == "" || strings.EqualFold(val, "true"))
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

// sendmailSocket finds the local submission socket in the
// configuration. A file this user may not read (it may name secrets)
// means the default socket.
func sendmailSocket(a *sendmailArgs) (string, int) {
	path := configFile(a.config)
	if path != "" {
		if f, err := os.Open(path); errors.Is(err, fs.ErrPermission) {
			fmt.Fprintf(os.Stderr, "postern sendmail: cannot read %s (permission denied); trying the default socket %s\n", path, config.DefaultLocalSocket)
			return config.DefaultLocalSocket, 0
		} else if err == nil {
			f.Close()
		}
	}
	cfg, _, err := config.Load(path)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern sendmail: %v\n", err)
		return "", exConfig
	}
	if cfg.Local.Socket == "" {
		fmt.Fprintf(os.Stderr, "postern sendmail: local submission is turned off ([local] socket = \"\" in %s)\n", describeConfig(cfg))
		return "", exUnavailable
	}
	return cfg.Local.Socket, 0
}

func describeConfig(cfg *config.Config) string {
	if cfg.File == "" {
		return config.EmbeddedName
	}
	return cfg.File
}

// dialLocal connects to the server's socket, explaining failures.
func dialLocal(sock string) (net.Conn, int) {
	c, err := net.DialTimeout("unix", sock, 30*time.Second)
	if err == nil {
		return c, 0
	}
	switch {
	case errors.Is(err, syscall.ENOENT), errors.Is(err, syscall.ECONNREFUSED):
		fmt.Fprintf(os.Stderr, "postern sendmail: the postern server is not running (nothing listens on %s); the message was not sent\n", sock)
		return nil, exTempFail
	case errors.Is(err, syscall.EACCES):
		fmt.Fprintf(os.Stderr, "postern sendmail: permission denied on %s: its directory must be reachable by every user who sends mail (see [local] socket)\n", sock)
		return nil, exUnavailable
	}
	fmt.Fprintf(os.Stderr, "postern sendmail: cannot connect to %s: %v\n", sock, err)
	return nil, exTempFail
}

// whoAmI returns the login name the server will see and a full name for
// a From field.
func whoAmI() (login, fullName string) {
	uid := os.Getuid()
	login = inbound.LoginName(uid)
	if u, err := user.LookupId(fmt.Sprint(uid)); err == nil {
		// The GECOS field: the full name, then office and phone.
		fullName, _, _ = strings.Cut(u.Name, ",")
	}
	return login, fullName
}

// openLocal connects and greets; host is the server's name, which
// completes bare addresses.
func openLocal(sock string, verbose bool) (*smtpclient.Client, string, int) {
	nc, code := dialLocal(sock)
	if nc == nil {
		return nil, "", code
	}
	if verbose {
		nc = &traceConn{Conn: nc, w: os.Stderr}
	}
	c := smtpclient.New(nc, smtpclient.Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if err := c.Greet(ctx); err != nil {
		nc.Close()
		return nil, "", replyExit("the server refused the connection", err)
	}
	if err := c.Hello(ctx, "localhost"); err != nil {
		nc.Close()
		return nil, "", replyExit("the server refused EHLO", err)
	}
	host := c.ServerName()
	if host == "" {
		host = c.HelloName()
	}
	return c, host, 0
}

// replyExit prints what went wrong and picks the exit code.
func replyExit(what string, err error) int {
	fmt.Fprintf(os.Stderr, "postern sendmail: %s: %v\n", what, err)
	var rep *smtp.Reply
	if errors.As(err, &rep) {
		return replyCode(rep)
	}
	return exTempFail
}

// replyCode maps an SMTP refusal to a sysexits code.
func replyCode(rep *smtp.Reply) int {
	switch {
	case rep.Code < 500:
		return exTempFail
	case strings.HasPrefix(rep.Enhanced, "5.1."):
		return exNoUser
	case strings.HasPrefix(rep.Enhanced, "5.7."):
		return exNoPerm
	case strings.HasPrefix(rep.Enhanced, "5.6."), strings.HasPrefix(rep.Enhanced, "5.3.4"):
		return exDataErr
	}
	return exUnavailable
}

// envelopeSender is -f's address, or login@host.
func envelopeSender(a *sendmailArgs, login, host string) (string, error) {
	if !a.fromSet {
		return login + "@" + host, nil
	}
	f := strings.TrimSpace(a.from)
	if f == "" || f == "<>" {
		return "", nil // the null sender
	}
	list, err := submit.ParseAddressList(f, host)
	if err != nil || len(list) != 1 {
		return "", fmt.Errorf("-f %s: not an address", a.from)
	}
	return list[0], nil
}

// sendmailDeliver is -bm: read the message, complete it, submit it.
func sendmailDeliver(a *sendmailArgs, sock string, stdin io.Reader) int {
	if len(a.rcpts) == 0 && !a.extract {
		// Said before waiting for a message on a terminal.
		fmt.Fprintln(os.Stderr, "postern sendmail: no recipients given (name them, or use -t)")
		return exUsage
	}
	// The whole input is read before the server is contacted: cron
	// streams a job's output as it comes, which may take hours.
	msg, err := submit.ReadInput(stdin, a.dotEnds, maxSubmission)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern sendmail: reading the message: %v\n", err)
		if errors.Is(err, submit.ErrTooBig) {
			return exDataErr
		}
		return exIOErr
	}
	c, host, code := openLocal(sock, a.verbose)
	if c == nil {
		return code
	}
	defer c.Quit()
	login, gecos := whoAmI()
	sender, err := envelopeSender(a, login, host)
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern sendmail: %v\n", err)
		return exUsage
	}
	fromHeader, name := sender, a.fullName
	if fromHeader == "" {
		fromHeader = login + "@" + host
	}
	if name == "" && !a.fromSet {
		name = gecos
	}
	p, err := submit.Prepare(msg, submit.Options{ExtractRcpts: a.extract, From: fromHeader, FullName: name, Hostname: host})
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern sendmail: header %v\n", err)
		return exDataErr
	}
	var rcpts []string
	seen := map[string]bool{}
	addRcpt := func(r string) {
		if k := strings.ToLower(r); !seen[k] {
			seen[k] = true
			rcpts = append(rcpts, r)
		}
	}
	for _, arg := range a.rcpts {
		list, err := submit.ParseAddressList(arg, host)
		if err != nil {
			fmt.Fprintf(os.Stderr, "postern sendmail: recipient %v\n", err)
			return exNoUser
		}
		for _, r := range list {
			addRcpt(r)
		}
	}
	// Postfix's rule: with -t, the header's recipients are added to
	// those on the command line.
	for _, r := range p.Rcpts {
		addRcpt(r)
	}
	if len(rcpts) == 0 {
		if a.extract {
			fmt.Fprintln(os.Stderr, "postern sendmail: no recipient addresses found in the header (To, Cc, Bcc)")
		} else {
			fmt.Fprintln(os.Stderr, "postern sendmail: no recipients given (name them, or use -t)")
		}
		return exUsage
	}
	m := &smtpclient.Message{From: sender, Size: int64(len(p.Message)), Ret: a.ret, EnvID: a.envid, Body: a.body}
	if m.Body == "" && !isASCII(p.Message) {
		// RFC 6152: 8-bit content is declared.
		m.Body = "8BITMIME"
	}
	m.SMTPUTF8 = !isASCII([]byte(sender))
	for _, r := range rcpts {
		m.Rcpts = append(m.Rcpts, smtpclient.Rcpt{Addr: r, Notify: a.notify})
		if !isASCII([]byte(r)) {
			m.SMTPUTF8 = true
		}
	}
	if rep := c.Check(m); rep != nil {
		fmt.Fprintf(os.Stderr, "postern sendmail: %v\n", rep)
		return replyCode(rep)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	res := c.Send(ctx, m, bytes.NewReader(p.Message))
	return sendResult(res, m)
}

// sendResult reports the outcome: every refused recipient on standard
// error; the exit status of the worst refusal.
func sendResult(res smtpclient.Result, m *smtpclient.Message) int {
	if res.Whole != nil {
		var rep *smtp.Reply
		if errors.As(res.Whole, &rep) {
			fmt.Fprintf(os.Stderr, "postern sendmail: message refused: %v\n", rep)
			return replyCode(rep)
		}
		if res.DataSent {
			fmt.Fprintf(os.Stderr, "postern sendmail: connection lost after the message was sent; it may or may not have been accepted: %v\n", res.Whole)
		} else {
			fmt.Fprintf(os.Stderr, "postern sendmail: connection lost; the message was not sent: %v\n", res.Whole)
		}
		return exTempFail
	}
	code, perm := 0, false
	for i, err := range res.Rcpts {
		if err == nil {
			continue
		}
		fmt.Fprintf(os.Stderr, "postern sendmail: %s: %v\n", m.Rcpts[i].Addr, err)
		var rep *smtp.Reply
		if !errors.As(err, &rep) {
			if !perm {
				code = exTempFail
			}
			continue
		}
		c := replyCode(rep)
		if rep.Code >= 500 {
			if !perm {
				code, perm = c, true
			}
		} else if !perm {
			code = c
		}
	}
	return code
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= 0x80 {
			return false
		}
	}
	return true
}

// sendmailVerify is -bv: RCPT for each address, then RSET; nothing is
// sent.
func sendmailVerify(a *sendmailArgs, sock string, out io.Writer) int {
	if len(a.rcpts) == 0 {
		fmt.Fprintln(os.Stderr, "postern sendmail: -bv needs addresses to verify")
		return exUsage
	}
	nc, code := dialLocal(sock)
	if nc == nil {
		return code
	}
	defer nc.Close()
	if a.verbose {
		nc = &traceConn{Conn: nc, w: os.Stderr}
	}
	nc.SetDeadline(time.Now().Add(5 * time.Minute))
	br := bufio.NewReader(nc)
	cmd := func(line string) (*smtp.Reply, error) {
		if line != "" {
			if _, err := io.WriteString(nc, line+"\r\n"); err != nil {
				return nil, err
			}
		}
		return smtpclient.ReadReply(br)
	}
	rep, err := cmd("")
	if err == nil && rep.Code == 220 {
		host := smtpclient.Greeting(rep.Text)
		rep, err = cmd("EHLO localhost")
		if err == nil && rep.Code == 250 {
			login, _ := whoAmI()
			sender, serr := envelopeSender(a, login, host)
			if serr != nil {
				fmt.Fprintf(os.Stderr, "postern sendmail: %v\n", serr)
				return exUsage
			}
			rep, err = cmd("MAIL FROM:<" + sender + ">")
			if err == nil && rep.Code == 250 {
				return verifyRcpts(a.rcpts, host, cmd, out)
			}
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "postern sendmail: %v\n", err)
		return exTempFail
	}
	fmt.Fprintf(os.Stderr, "postern sendmail: refused: %v\n", rep)
	return replyCode(rep)
}

func verifyRcpts(args []string, host string, cmd func(string) (*smtp.Reply, error), out io.Writer) int {
	code := 0
	for _, arg := range args {
		list, err := submit.ParseAddressList(arg, host)
		if err != nil {
			fmt.Fprintf(out, "%s... not an address: %v\n", arg, err)
			code = exNoUser
			continue
		}
		for _, r := range list {
			rep, err := cmd("RCPT TO:<" + r + ">")
			if err != nil {
				fmt.Fprintf(os.Stderr, "postern sendmail: %v\n", err)
				return exTempFail
			}
			if rep.Code == 250 || rep.Code == 251 {
				fmt.Fprintf(out, "%s... deliverable\n", r)
				continue
			}
			fmt.Fprintf(out, "%s... undeliverable: %d %s %s\n", r, rep.Code, rep.Enhanced, oneLine(rep.Text))
			if c := replyCode(rep); code == 0 || c != exTempFail {
				code = c
			}
		}
	}
	cmd("RSET")
	cmd("QUIT")
	return code
}

// sendmailSMTP is -bs: an SMTP conversation on standard input and
// output, passed to the server's socket. Lines from the client may end
// in a bare LF (a person typing); they are passed on with CR LF.
func sendmailSMTP(sock string, in io.Reader, out io.Writer) int {
	nc, code := dialLocal(sock)
	if nc == nil {
		return code
	}
	defer nc.Close()
	done := make(chan error, 1)
	go func() {
		_, err := io.Copy(out, nc)
		done <- err
	}()
	go func() {
		br := bufio.NewReaderSize(in, 64<<10)
		bw := bufio.NewWriter(nc)
		for {
			line, err := br.ReadSlice('\n')
			if len(line) > 0 {
				if bytes.HasSuffix(line, []byte("\n")) && !bytes.HasSuffix(line, []byte("\r\n")) {
					bw.Write(line[:len(line)-1])
					bw.WriteString("\r\n")
				} else {
					bw.Write(line)
				}
			}
			if br.Buffered() == 0 || err != nil {
				if bw.Flush() != nil {
					return
				}
			}
			if err != nil && err != bufio.ErrBufferFull {
				break
			}
		}
		// End of input: the server sees the end, as after QUIT.
		if uc, ok := nc.(*net.UnixConn); ok {
			uc.CloseWrite()
		}
	}()
	if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) {
		fmt.Fprintf(os.Stderr, "postern sendmail: %v\n", err)
		return exIOErr
	}
	return 0
}

// newaliases is -bi: there is nothing to rebuild; the maps are checked.
func newaliases(a *sendmailArgs) int {
	cfg, _, err := loadConfig(a.config)
	if err != nil {
		fmt.Fprintf(os.Stderr, "newaliases: %v\n", err)
		return exConfig
	}
	fmt.Println("postern reads its maps (aliases included) as plain text: there is no database to rebuild.")
	fmt.Println("The running server picks up changes by itself (or at once on SIGHUP).")
	if cfg.MapsDir == "" {
		fmt.Println("No maps_dir is configured: there are no aliases.")
		return 0
	}
	r := checkMaps(cfg)
	for _, w := range r.warnings {
		fmt.Println(w)
	}
	for _, p := range r.problems {
		fmt.Fprintln(os.Stderr, p)
	}
	if len(r.problems) > 0 {
		fmt.Fprintf(os.Stderr, "newaliases: the maps in %s have errors; the server keeps the previous version of a broken map\n", cfg.MapsDir)
		return exConfig
	}
	fmt.Printf("The maps in %s are valid.\n", cfg.MapsDir)
	return 0
}

// traceConn shows the SMTP conversation (-v): commands and replies,
// not the message.
type traceConn struct {
	net.Conn
	w      io.Writer
	inData bool
}

func (t *traceConn) Read(p []byte) (int, error) {
	n, err := t.Conn.Read(p)
	if n > 0 {
		for _, l := range strings.SplitAfter(string(p[:n]), "\n") {
			if l != "" {
				fmt.Fprintf(t.w, "<<< %s", printable(l))
			}
		}
	}
	return n, err
}

func (t *traceConn) Write(p []byte) (int, error) {
	for _, l := range strings.SplitAfter(string(p), "\n") {
		switch {
		case l == "":
		case t.inData:
			if l == ".\r\n" {
				t.inData = false
				fmt.Fprintf(t.w, ">>> .\n")
			}
		default:
			fmt.Fprintf(t.w, ">>> %s", printable(l))
			if strings.EqualFold(strings.TrimSpace(l), "DATA") {
				t.inData = true
				fmt.Fprintf(t.w, ">>> (message)\n")
			}
		}
	}
	return t.Conn.Write(p)
}

func printable(l string) string {
	l = strings.TrimRight(l, "\r\n")
	if !utf8.ValidString(l) {
		l = strings.ToValidUTF8(l, "?")
	}
	return oneLine(l) + "\n"
}
