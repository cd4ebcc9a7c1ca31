package alert

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"postern/internal/history"
)

// Action is what happens to a user's (or the host's) outbound mail while
// its spike alert lasts.
type Action int

const (
	// Log only logs and alerts.
	Log Action = iota
	// Hold accepts the mail and keeps it in the queue (inbound Hold).
	Hold
	// Refuse answers 451 4.7.1 to remote recipients.
	Refuse
)

// ParseAction reads "log", "hold" or "refuse".
func ParseAction(s string) (Action, error) {
	switch s {
	case "log":
		return Log, nil
	case "hold":
		return Hold, nil
	case "refuse":
		return Refuse, nil
	}
	return Log, fmt.Errorf("alert action %q: want log, hold or refuse", s)
}

func (a Action) String() string { return [...]string{"log", "hold", "refuse"}[a] }

// Options configure a Detector; zero fields take the documented defaults.
type Options struct {
	Window          time.Duration // counting window; 0 = 10m
	BaselineWindows int           // past windows averaged into the baseline; 0 = 36
	Factor          int           // trip above Factor x baseline; 0 = 5
	UserFloor       int           // least baseline of a user, messages per window; 0 = 20
	HostFloor       int           // least baseline of the host; 0 = 200
	Action          Action
	Duration        time.Duration // how long the action lasts; 0 = 1h

	// IsLocal tells our own domains; mail to others is outbound.
	IsLocal func(domain string) bool
	// Webhook, when set, receives a JSON POST per alert.
	Webhook string
	Client  *http.Client // for the webhook; nil = 10 s timeout client
	// Notify, when set, puts a notice mail into the queue (for the
	// postmaster); msg is a complete RFC 5322 message.
	Notify   func(ctx context.Context, msg []byte) error
	Hostname string // names the host in alerts
	Log      *slog.Logger
	// Counter, when set, counts alerts by scope ("user" or "host").
	Counter interface{ Alert(scope string) }
	// History, when set, samples the threshold in force for each user
	// and the host every minute (the console draws it over the
	// outbound plot).
	History interface {
		Gauge(f func(set func(name string, v float64)))
	}
	Now func() time.Time // nil = time.Now
}

// Detector counts outbound messages and decides spikes. Its methods are
// inbound checkers (see checker.go); it is safe for concurrent use.
type Detector struct {
	opt   Options
	rates *rates
	wg    sync.WaitGroup // notifications under way
}

// hostKey is the host's series; user keys are addresses and never empty.
const hostKey = ""

// New returns a Detector.
func New(opt Options) *Detector {
	if opt.Window <= 0 {
		opt.Window = 10 * time.Minute
	}
	if opt.BaselineWindows <= 0 {
		opt.BaselineWindows = 36
	}
	if opt.Factor <= 1 {
		opt.Factor = 5
	}
	if opt.UserFloor <= 0 {
		opt.UserFloor = 20
	}
	if opt.HostFloor <= 0 {
		opt.HostFloor = 200
	}
	if opt.Duration <= 0 {
		opt.Duration = time.Hour
	}
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: 10 * time.Second}
	}
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	d := &Detector{opt: opt, rates: newRates(opt.Window, opt.BaselineWindows, opt.Factor)}
	if opt.History != nil {
		opt.History.Gauge(d.setThresholds)
	}
	return d
}

// setThresholds gives the history the count per window that would trip
// the alert now, for the host and each user with recent outbound mail.
func (d *Detector) setThresholds(set func(name string, v float64)) {
	for k, v := range d.rates.thresholds(d.opt.Now(), d.opt.UserFloor, d.opt.HostFloor) {
		if k == hostKey {
			k = history.Host
		}
		set(history.ThresholdPrefix+k, v)
	}
}

// Event is one alert, as logged, POSTed and mailed.
type Event struct {
	Time     time.Time `json:"time"`
	Host     string    `json:"host"`
	Scope    string    `json:"scope"` // "user" or "host"
	User     string    `json:"user,omitempty"`
	Count    int       `json:"count"`    // messages in the current window
	Baseline float64   `json:"baseline"` // average per window before it
	Limit    float64   `json:"limit"`    // the threshold passed
	Window   string    `json:"window"`
	Action   string    `json:"action"`
	Until    time.Time `json:"until"`
}

// Outbound counts one outbound message of user ("" when the sender did
// not authenticate, e.g. a trusted network) and alerts on a spike. It
// returns the alerts raised (none in the usual case).
func (d *Detector) Outbound(ctx context.Context, user string) []Event {
	now := d.opt.Now()
	var evs []Event
	if user != "" {
		if t := d.rates.add(user, d.opt.UserFloor, now, d.opt.Duration); t != nil {
			evs = append(evs, d.event("user", user, t, now))
		}
	}
	if t := d.rates.add(hostKey, d.opt.HostFloor, now, d.opt.Duration); t != nil {
		evs = append(evs, d.event("host", "", t, now))
	}
	for _, ev := range evs {
		d.raise(ctx, ev)
	}
	return evs
}

func (d *Detector) event(scope, user string, t *trip, now time.Time) Event {
	return Event{Time: now, Host: d.opt.Hostname, Scope: scope, User: user, Count: t.count,
		Baseline: t.baseline, Limit: t.limit, Window: d.opt.Window.String(), Action: d.opt.Action.String(),
		Until: now.Add(d.opt.Duration)}
}

// Limited reports whether user's outbound mail (or the host's) is under
// an alert now.
func (d *Detector) Limited(user string) bool {
	now := d.opt.Now()
	return d.rates.active(hostKey, now) || (user != "" && d.rates.active(user, now))
}

// Active lists the alerts in force: "host" and "user ADDRESS"; none on
// a nil Detector (alerts off).
func (d *Detector) Active() []string {
	if d == nil {
		return nil
	}
	var out []string
	for _, k := range d.rates.activeKeys(d.opt.Now()) {
		if k == hostKey {
			out = append(out, "host")
		} else {
			out = append(out, "user "+k)
		}
	}
	sort.Strings(out)
	return out
}

// Wait waits for the notifications under way (webhooks, mails).
func (d *Detector) Wait() { d.wg.Wait() }

// raise logs the alert and sends the notifications in the background.
func (d *Detector) raise(ctx context.Context, ev Event) {
	d.opt.Log.WarnContext(ctx, "outbound spike", "scope", ev.Scope, "user", ev.User, "count", ev.Count,
		"baseline", fmt.Sprintf("%.1f", ev.Baseline), "limit", fmt.Sprintf("%.0f", ev.Limit), "window", ev.Window,
		"action", ev.Action, "until", ev.Until.Format(time.RFC3339))
	if d.opt.Counter != nil {
		d.opt.Counter.Alert(ev.Scope)
	}
	d.send(ctx, ev, noticeMail(ev, d.opt.Now()))
}

// domainOf returns the lower-case domain of an address.
func domainOf(addr string) string {
	return strings.ToLower(addr[strings.LastIndexByte(addr, '@')+1:])
}
