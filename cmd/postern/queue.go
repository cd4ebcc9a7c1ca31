package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"postern/internal/cliflags"
	"postern/internal/control"
	"postern/internal/layout"
	"postern/internal/queueadmin"
)

const queueUsage = `usage: postern queue list [-config FILE] [-spool DIR] [-json]
       postern queue flush [ID] [-config FILE]
       postern queue requeue -all | ID... [-config FILE]
       postern queue hold|release|remove|bounce ID [-config FILE]

list     the messages waiting in the queue: id, age, size, sender, the
         recipients still to be delivered and the last delivery error. It
         reads the spool directory (data_dir/spool); the server need not run.
flush    try the message ID (or every message) now, whatever its retry time
         and in deferred mode too. Held messages are not flushed.
requeue  start ID over (or every message): attempts forgotten, routed again
         with the maps in force (after a mailertable or aliases change), now.
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
	all := flags.Bool("all", false, "requeue: every message in the queue")
	flags.Usage = func() {
		fmt.Fprintln(errw, queueUsage)
		flags.PrintDefaults()
	}
	pos, err := cliflags.Parse(flags, args)
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
		reqs, err := queueadmin.Requests(pos, *all)
		if err != nil {
			fmt.Fprintf(errw, "postern queue: %v\n\n", err)
			flags.Usage()
			return 2
		}
		if *spoolDir != "" || *asJSON {
			fmt.Fprintf(errw, "postern queue %s: -spool and -json go with list only\n", reqs[0].Verb)
			return 2
		}
		return queueAction(reqs, *configPath, out, errw)
	}
	if len(pos) != 1 || *all {
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
	if err := queueadmin.List(out, errw, dir, *asJSON, now); err != nil {
		fmt.Fprintf(errw, "postern queue: %v\n", err)
		return 1
	}
	return 0
}

// queueAction sends reqs to the running server, or carries them out on
// the spool directly when no server runs.
func queueAction(reqs []control.Request, configPath string, out, errw io.Writer) int {
	cfg, _, err := loadConfig(configPath)
	if err != nil {
		fmt.Fprintln(errw, err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	text, err := queueadmin.Act(ctx, reqs, layout.ControlSocket(cfg), cfg.SpoolDir(), spoolOptions(cfg, nil), cfg.User)
	if err != nil {
		fmt.Fprintf(errw, "postern queue %s: %v\n", reqs[0].Verb, err)
		return 1
	}
	fmt.Fprintln(out, text)
	return 0
}
