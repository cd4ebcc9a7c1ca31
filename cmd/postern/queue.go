package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"postern/internal/control"
	"postern/internal/envelope"
	"postern/internal/spool"
)

const queueUsage = `usage: postern queue list [-config FILE] [-spool DIR] [-json]
       postern queue flush [ID] [-config FILE]
       postern queue hold|release|remove|bounce ID [-config FILE]

list     the messages waiting in the queue: id, age, size, sender, the
         recipients still to be delivered and the last delivery error. It
         reads the spool directory (data_dir/spool); the server need not run.
flush    try the message ID (or every message) now, whatever its retry time
         and in deferred mode too. Held messages are not flushed.
hold     keep ID in the queue, undelivered, until released.
release  let a held message be delivered.
remove   delete ID from the queue; nobody is told.
bounce   give up on ID now: its sender gets a bounce (as NOTIFY asks).

Everything but list goes to the running server through its control socket
(data_dir/control.sock; run as root or as the user postern runs as). When no
server runs, the command works on the queue directly; a flush then takes
effect when postern serve starts.`

func runQueue(args []string) int {
	return queueCmd(args, os.Stdout, os.Stderr, time.Now())
}

func queueCmd(args []string, out, errw io.Writer, now time.Time) int {
	flags := flag.NewFlagSet("queue", flag.ContinueOnError)
	flags.SetOutput(errw)
	configPath := flags.String("config", "", "configuration `file` (default: the embedded default); the spool is data_dir/spool")
	spoolDir := flags.String("spool", "", "spool `directory` to read, instead of the one in the configuration")
	asJSON := flags.Bool("json", false, "print one JSON array of messages")
	flags.Usage = func() {
		fmt.Fprintln(errw, queueUsage)
		flags.PrintDefaults()
	}
	pos, err := parseFlags(flags, args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		return 2
	}
	if len(pos) == 0 {
		flags.Usage()
		return 2
	}
	if pos[0] != "list" {
		line := strings.Join(pos, " ")
		req, err := control.ParseRequest(line)
		if err != nil || req.Verb == control.VerbList {
			fmt.Fprintf(errw, "postern queue: %s: %v\n\n", oneLine(line), err)
			flags.Usage()
			return 2
		}
		if *spoolDir != "" || *asJSON {
			fmt.Fprintf(errw, "postern queue %s: -spool and -json go with list only\n", req.Verb)
			return 2
		}
		return queueAction(req, *configPath, out, errw)
	}
	if len(pos) != 1 {
		flags.Usage()
		return 2
	}
	dir := *spoolDir
	if dir == "" {
		cfg, _, err := loadConfig(*configPath)
		if err != nil {
			fmt.Fprintln(errw, err)
			return 1
		}
		dir = cfg.SpoolDir()
	}
	items, err := spool.List(dir)
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(errw, "postern queue: no spool at %s yet\n", dir)
		items, err = nil, nil
	}
	if err != nil {
		fmt.Fprintf(errw, "postern queue: %v\n", err)
		return 1
	}
	if *asJSON {
		if items == nil {
			items = []spool.Item{}
		}
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		if err := enc.Encode(items); err != nil {
			fmt.Fprintf(errw, "postern queue: %v\n", err)
			return 1
		}
		return 0
	}
	printQueue(out, items, now)
	if bad, err := spool.ListCorrupt(dir); err == nil && len(bad) > 0 {
		fmt.Fprintf(out, "%d file(s) set aside as corrupt, not delivered: %s\n", len(bad), strings.Join(bad, " "))
	}
	return 0
}

func printQueue(out io.Writer, items []spool.Item, now time.Time) {
	if len(items) == 0 {
		fmt.Fprintln(out, "queue is empty")
		return
	}
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tAGE\tSIZE\tSENDER\tRECIPIENTS\tLAST ERROR")
	var total int64
	for _, it := range items {
		total += it.Size
		age := "-"
		if !it.Arrived.IsZero() {
			age = shortDuration(now.Sub(it.Arrived))
		}
		from := it.From
		if from == "" {
			from = "<>"
		}
		last := it.LastError
		if last == "" {
			last = "-"
		} else if it.Attempts > 0 {
			last = fmt.Sprintf("(%d tries) %s", it.Attempts, last)
		}
		if it.Held {
			last = "(held) " + last
		} else if it.Slow {
			last = "(slow lane) " + last
		}
		fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\n", it.ID, age, it.Size, oneLine(from),
			oneLine(strings.Join(it.Rcpts, ",")), oneLine(last))
	}
	tw.Flush()
	fmt.Fprintf(out, "%d message(s), %d bytes\n", len(items), total)
}

// queueAction sends req to the running server, or carries it out on the
// spool directly when no server runs.
func queueAction(req control.Request, configPath string, out, errw io.Writer) int {
	cfg, _, err := loadConfig(configPath)
	if err != nil {
		fmt.Fprintln(errw, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	r, err := control.Do(ctx, controlSocket(cfg), req)
	switch {
	case err == nil && r.OK:
		fmt.Fprintln(out, r.Text)
		return 0
	case err == nil:
		fmt.Fprintf(errw, "postern queue %s: %s\n", req.Verb, r.Text)
		return 1
	case !errors.Is(err, control.ErrNoServer):
		fmt.Fprintf(errw, "postern queue %s: %v\n", req.Verb, err)
		return 1
	}
	// No server: the queue is ours to change (New takes its lock).
	if _, err := os.Stat(cfg.SpoolDir()); errors.Is(err, fs.ErrNotExist) {
		fmt.Fprintf(errw, "postern queue %s: no spool at %s yet\n", req.Verb, cfg.SpoolDir())
		return 1
	}
	sp, err := spool.New(cfg.SpoolDir(), offlineCourier{}, nil, spoolOptions(cfg, nil))
	if err != nil {
		fmt.Fprintf(errw, "postern queue %s: %v (a server holds the queue but does not answer on %s)\n", req.Verb, err, controlSocket(cfg))
		return 1
	}
	defer sp.Close()
	text, err := control.Apply(sp, req)
	if err != nil {
		fmt.Fprintf(errw, "postern queue %s: %v\n", req.Verb, err)
		return 1
	}
	switch req.Verb {
	case control.VerbFlush:
		text += " (no server is running: delivered when postern serve starts)"
	case control.VerbBounce:
		text += " (no server is running: the bounce is sent when postern serve starts)"
	default:
		text += " (no server is running: done on the queue directly)"
	}
	fmt.Fprintln(out, text)
	return 0
}

// offlineCourier is the courier of a spool opened by the queue command:
// Run is never called, so it never delivers.
type offlineCourier struct{}

func (offlineCourier) Deliver(ctx context.Context, env *envelope.Envelope, rcpts []envelope.Recipient, body io.ReaderAt) []error {
	errs := make([]error, len(rcpts))
	for i := range errs {
		errs[i] = errors.New("the queue command does not deliver")
	}
	return errs
}

// shortDuration prints an age the way queue listings do: 45s, 12m, 3h, 2d.
func shortDuration(d time.Duration) string {
	switch {
	case d < 0:
		return "0s"
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d/time.Second))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d/time.Minute))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d/time.Hour))
	default:
		return fmt.Sprintf("%dd", int(d/(24*time.Hour)))
	}
}

// oneLine keeps a value on its line: control characters (an error text
// may hold newlines, an address anything) are shown escaped.
func oneLine(s string) string {
	if strings.IndexFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f }) < 0 {
		return s
	}
	q := fmt.Sprintf("%q", s)
	return q[1 : len(q)-1]
}
