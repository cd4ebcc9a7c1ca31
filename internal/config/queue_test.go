package config

import (
	"strings"
	"testing"
	"time"
)

func TestQueueDefaults(t *testing.T) {
	for _, name := range []string{"file", "embedded"} {
		var c *Config
		var err error
		if name == "file" {
			c, _, err = Load(writeConfig(t, rateBase))
		} else {
			c, _, err = Load("")
		}
		if err != nil {
			t.Fatal(err)
		}
		want := Queue{RetryInitial: 5 * time.Minute, RetryMax: 4 * time.Hour, Lifetime: 120 * time.Hour,
			WarnAfter: OptionalDuration(4 * time.Hour), QueueInterval: 15 * time.Minute}
		if c.Queue != want {
			t.Errorf("%s: [queue] %+v, want %+v", name, c.Queue, want)
		}
		if c.Delivery.Mode != DeliveryBackground {
			t.Errorf("%s: delivery.mode %q", name, c.Delivery.Mode)
		}
	}
}

func TestQueueGood(t *testing.T) {
	c, warnings, err := Load(writeConfig(t, rateBase+`
[delivery]
mode = "deferred"
[queue]
retry_initial = "10m"
retry_max = "8h"
lifetime = "72h"
warn_after = ""
queue_interval = "30m"
`))
	if err != nil {
		t.Fatal(err)
	}
	want := Queue{RetryInitial: 10 * time.Minute, RetryMax: 8 * time.Hour, Lifetime: 72 * time.Hour, QueueInterval: 30 * time.Minute}
	if c.Queue != want || c.Delivery.Mode != DeliveryDeferred {
		t.Errorf("got %+v mode %q", c.Queue, c.Delivery.Mode)
	}
	for _, w := range warnings {
		if strings.Contains(w.Msg, "queue") {
			t.Errorf("unexpected warning %v", w)
		}
	}
}

func TestQueueBad(t *testing.T) {
	tests := []struct {
		conf, want string
		line       int
	}{
		{"[delivery]\nmode = \"later\"\n", `delivery.mode must be "background" or "deferred"`, 4},
		{"[queue]\nretry_initial = \"1h\"\nretry_max = \"10m\"\n", "queue.retry_max 10m0s is shorter than queue.retry_initial", 5},
		{"[queue]\nlifetime = \"1m\"\n", "queue.lifetime 1m0s is shorter", 4},
		{"[queue]\nwarn_after = \"soon\"\n", `queue.warn_after "soon" is not a positive duration`, 4},
		{"[queue]\nwarn_after = 4\n", "queue.warn_after must be a duration", 4},
		{"[queue]\nretry_max = \"\"\n", "queue.retry_max", 4},
	}
	for _, tt := range tests {
		_, _, err := Load(writeConfig(t, rateBase+tt.conf))
		if err == nil {
			t.Errorf("%q: no error", tt.conf)
			continue
		}
		e, ok := err.(*Error)
		if !ok || len(e.Problems) != 1 || !strings.Contains(e.Problems[0].Msg, tt.want) || e.Problems[0].Line != tt.line {
			t.Errorf("%q: %v (want %q on line %d)", tt.conf, err, tt.want, tt.line)
		}
	}
}

func TestQueueWarnings(t *testing.T) {
	_, warnings, err := Load(writeConfig(t, rateBase+"[queue]\nwarn_after = \"200h\"\nqueue_interval = \"5m\"\nretry_initial = \"10s\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, w := range warnings {
		got = append(got, w.Msg)
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{"no delay notice is ever sent", "deferred mode only", "hammers"} {
		if !strings.Contains(all, want) {
			t.Errorf("no warning %q in:\n%s", want, all)
		}
	}
}
